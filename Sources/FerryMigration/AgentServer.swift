import FerryCRIU
import FerryCheckpoint
import FerryContainers
import FerryErrors
import FerrySystem
import Foundation
import Glibc
import Logging

/// `ferry agent`: the target's side. Reads requests from stdin, answers on stdout, until
/// `bye` or end of input. Everything it creates for an incoming container lives in a
/// staging directory until `restore` or `register` moves it into place, so `abort` can
/// always remove exactly what this migration made.
public struct AgentServer {
    public let manager: ContainerManager
    public let engine: CRIUEngine
    /// The image streams opened for staged containers, until their restore takes them.
    private let streams = ImageStreams()
    /// The post-copies in progress, until the source asks for their verdict.
    private let postcopies = PostcopyArrivals()

    public init(manager: ContainerManager, engine: CRIUEngine) {
        self.manager = manager
        self.engine = engine
    }

    /// How long the agent waits for a source's next request before it takes the source as
    /// gone: a pre-sync of a large area sends no request for a long time.
    static let idleLimit = 30 * 60.0
    /// After a restore, the commit (or abort) must come within the lease: a source silent
    /// for longer has lost its link (a cut link never closes this side's ssh by itself).
    static let leaseGrace = 5.0

    /// Answers requests until `bye` or end of input. Fails only when it cannot answer at
    /// all (no output descriptor); every request's own failure is an answer.
    public func serve(input: Int32 = 0, output: Int32 = 1) throws(FerryError) {
        let reader = LineReader(fd: input)
        let writer = try OwnedFileDescriptor.duplicate(output, what: "the agent's output (descriptor \(output))")
        var staged: Set<String> = []
        var patience = Self.idleLimit
        while case .success(let line) = reader.next(within: patience) {
            let response: AgentResponse
            var stop = false
            patience = Self.idleLimit
            do throws(FerryError) {
                let request = try decode(line)
                if case .bye = request.operation { stop = true }
                if case .prepare(let prepare) = request.operation, let config = try? prepare.containerConfig() { staged.insert(config.name.value) }
                response = try handle(request.operation)
                if case .restore(let restore) = request.operation { patience = restore.lease + Self.leaseGrace }
            } catch {
                response = AgentResponse(ok: false, failure: .init(error))
            }
            try writer.write(try AgentProtocol.line(response))
            if stop { return }
        }
        // The source is gone (its ssh closed, or silent past the lease): what it staged here
        // and never moved into place is nobody's. An arrived copy is left to its lease; one
        // whose post-copy fails meanwhile is killed by its watcher, which this waits for.
        streams.cancelAll()
        postcopies.settleAll(within: patience)
        for name in staged.compactMap({ try? ContainerName($0) }) where access(staging(name).directory, F_OK) == 0 {
            try? unmountStaged(name)
            try? removeTree(staging(name).directory)
        }
    }

    private func decode(_ line: String) throws(FerryError) -> AgentRequest {
        // The version first, on its own: a newer source's request may not decode at all.
        struct Versioned: Decodable { var protocolVersion: Int }
        if let versioned = try? JSONDecoder().decode(Versioned.self, from: Data(line.utf8)), versioned.protocolVersion != AgentProtocol.version {
            throw FerryError(
                .invalidArgument,
                "agent speaks protocol \(AgentProtocol.version), the source speaks \(versioned.protocolVersion); install the same Ferry on both hosts")
        }
        do {
            return try JSONDecoder().decode(AgentRequest.self, from: Data(line.utf8))
        } catch {
            throw FerryError(.invalidArgument, "malformed agent request: \(line.prefix(200))", cause: .error(error))
        }
    }

    private var root: StateRoot { manager.root }

    func staging(_ name: ContainerName) -> ContainerLayout {
        ContainerLayout(directory: "\(root.containersDirectory)/.\(name.value).incoming")
    }

    private func handle(_ operation: AgentRequest.Operation) throws(FerryError) -> AgentResponse {
        switch operation {
        case .hello(let hello):
            let name = try ContainerName(hello.container)
            let probe = hello.sharedStorage?.value
            try root.prepare()
            let free = Self.freeBytes(root.path)
            let sharedDevice = probe?.locate()
            // The images land here too (the memory above all), unless on a dump device.
            let needed = (sharedDevice == nil ? hello.neededBytes : 0) + hello.imageBytes
            if needed > free {
                throw FerryError(
                    .invalidState,
                    "disk full on \(Self.hostName): the container needs \(needed / (1 << 20)) MiB under \(root.path) (private area and images), it has \(free / (1 << 20)) MiB; free space there or choose another target")
            }
            let criu = try? engine.version()
            let kernel = KernelFeatures.cached()
            let taken = access(root.layout(of: name).directory, F_OK) == 0 || access(staging(name).directory, F_OK) == 0
            var response = AgentResponse.success()
            response.hello = .init(
                protocolVersion: AgentProtocol.version, host: Self.hostName,
                stateRoot: root.path, criuVersion: criu?.description, kernelRelease: kernel.release, kernelFeatures: kernel.byName,
                freeBytes: free, nameTaken: taken, sharedDevice: sharedDevice,
                bridges: Dictionary((hello.bridges ?? []).map { ($0, (try? NetworkAttachment.bridgeExists($0)) ?? false) }, uniquingKeysWith: { a, _ in a }))
            return response
        case .prepare(let prepare):
            let config = try prepare.containerConfig()
            let name = config.name
            guard access(root.layout(of: name).directory, F_OK) != 0 else {
                throw FerryError(.alreadyExists, "container \(name) already exists on the target; choose another name or destroy it there")
            }
            if let template = config.overlayTemplate, access(template, F_OK) != 0 {
                throw FerryError(.notFound, "overlay template \(template) is missing on the target")
            }
            for bind in config.binds where access(bind.source, F_OK) != 0 {
                throw FerryError(.notFound, "bind source \(bind.source) is missing on the target")
            }
            try root.refuseTakenUserNamespace(of: config)
            let layout = staging(name)
            // Searchable by all, readable by none: a `--userns` restore opens its /dev
            // (UserNamespaceDevices) from inside the user namespace, by path.
            guard mkdir(layout.directory, 0o711) == 0 else {
                throw FerryError(.alreadyExists, "container \(name) is already being migrated to this host")
            }
            try makeDirectories(layout.privateArea)
            try makeDirectories("\(layout.directory)/images")
            try manager.writeConfig(config, to: layout)
            // Shared storage (insulatedDevice) needs nothing here: the source still uses the
            // device; the restore (or start) mounts it once the source has let it go.
            if case .insulatedImage(let file, let size) = config.storage {
                // The incoming data is synced straight into the target's own filesystem.
                try PrivateArea.createImage(at: layout.imagePath(file), sizeBytes: size)
                try area(config, layout).mountPrivate()
            }
            var response = AgentResponse.success()
            response.prepared = .init(privateArea: layout.privateArea, images: "\(layout.directory)/images")
            return response
        case .openImageStream(let open):
            let name = try ContainerName(open.container)
            let layout = staging(name)
            guard access(layout.directory, F_OK) == 0 else {
                throw FerryError(.notFound, "nothing staged for container \(name) on the target")
            }
            guard let key = Data(base64Encoded: open.key).map(Array.init), key.count == ImageStream.keyBytes else {
                throw FerryError(.invalidArgument, "the image stream key is not \(ImageStream.keyBytes) bytes of base64")
            }
            let address = Self.sshServerAddress ?? "::"
            let receiver = try ImageStreamReceiver(
                address: address, key: key, imagesDirectory: "\(layout.directory)/images", workDirectory: layout.directory, engine: engine,
                postcopy: open.postcopy == true, logger: manager.logger)
            streams.replace(name.value, with: receiver)
            var response = AgentResponse.success()
            response.imageStream = .init(address: address, port: receiver.port)
            return response
        case .restore(let restore):
            let name = try ContainerName(restore.container)
            let keepImages = restore.keepImages
            let dumpDevice = restore.dumpDevice?.value
            // Nothing is restored from a stream that was not whole and authentic.
            let stream = streams.take(name.value)
            try stream?.verdict(within: ImageStream.idleSeconds)
            // The lease runs from now: the source counts it from before it sent the request.
            try moveIntoPlace(name, lease: MigrationLease(state: .pending, deadline: BootClock.now + restore.lease))
            let started = Monotonic.now
            let directory = root.layout(of: name).directory
            let restorer = Restorer(manager: manager, engine: engine)
            let result: Restorer.Result
            if restore.postcopy == true {
                guard let stream else { throw FerryError(.invalidState, "a post-copy restore of \(name) needs its image stream") }
                result = try restorePostcopy(name, stream: stream, lease: restore.lease, keepImages: keepImages)
            } else if let dumpDevice {
                result = try dumpDevice.withMounted(at: "\(directory)/dump-device") { (images) throws(FerryError) in
                    let result = try restorer.restore(name, from: images, remap: .init())
                    if !keepImages { try? FileManager.default.removeItem(atPath: images) }
                    return result
                }
            } else {
                result = try restorer.restore(name, from: "\(directory)/images", remap: .init())
            }
            if !keepImages, restore.postcopy != true { try? FileManager.default.removeItem(atPath: "\(directory)/images") }
            var response = AgentResponse.success()
            response.restored = .init(pid: result.pid, restoreSeconds: Monotonic.now - started)
            return response
        case .register(let rawName):
            let name = try ContainerName(rawName)
            try moveIntoPlace(name, lease: MigrationLease(state: .pending, deadline: nil))
            try? FileManager.default.removeItem(atPath: "\(root.layout(of: name).directory)/images")
            return .success()
        case .abort(let rawName):
            let name = try ContainerName(rawName)
            streams.take(name.value)?.cancel()
            postcopies.take(name.value)?.cancel(try? manager.runtime(name))
            try abort(name)
            return .success()
        case .commit(let rawName):
            let name = try ContainerName(rawName)
            try commit(name)
            return .success()
        case .status(let rawName):
            var response = AgentResponse.success()
            response.held = held(try ContainerName(rawName))
            return response
        case .awaitPages(let rawName):
            let name = try ContainerName(rawName)
            guard let arrival = postcopies.take(name.value) else {
                throw FerryError(.notFound, "no post-copy of container \(name) is in progress on the target")
            }
            try arrival.outcome(within: AgentRequest.Operation.awaitPages(container: rawName).deadline)
            return .success()
        case .bye:
            return .success()
        }
    }

    /// A post-copy restore: the daemon that fetches the memory starts first, the copy is
    /// restored without its memory and runs at once (thawed, its network still shut until
    /// the commit); a watcher kills it the moment the daemon fails.
    private func restorePostcopy(_ name: ContainerName, stream: ImageStreamReceiver, lease: Double, keepImages: Bool) throws(FerryError) -> Restorer.Result {
        let runtime = try manager.runtime(name)
        let images = "\(runtime.layout.directory)/images"
        let arrival = try PostcopyArrival(receiver: stream, engine: engine, imagesDirectory: images, workDirectory: runtime.layout.directory)
        arrival.start(runtime: runtime, lease: lease, removingImages: keepImages ? nil : images, logger: manager.logger)
        do throws(FerryError) {
            let result = try Restorer(manager: manager, engine: engine).restore(name, from: images, remap: .init(), lazyPages: true)
            // Downtime ends here: the copy runs and faults its memory in.
            try runtime.cgroup.thaw()
            postcopies.put(name.value, arrival)
            return result
        } catch {
            arrival.cancel(runtime)
            throw error
        }
    }

    private func area(_ config: ContainerConfig, _ layout: ContainerLayout) -> PrivateArea {
        PrivateArea(config: config, layout: layout, root: root, logger: manager.logger)
    }

    /// Unmounts a staged insulated area (it is mounted again, in place, by start/restore).
    private func unmountStaged(_ name: ContainerName) throws(FerryError) {
        let layout = staging(name)
        guard access(layout.config, F_OK) == 0 else { return }
        let config = try manager.readConfig(at: layout)
        try area(config, layout).unmountPrivate()
    }

    private func moveIntoPlace(_ name: ContainerName, lease: MigrationLease) throws(FerryError) {
        try unmountStaged(name)
        let from = staging(name).directory
        let to = root.layout(of: name).directory
        guard access(from, F_OK) == 0 else {
            throw FerryError(.notFound, "nothing staged for container \(name) on the target")
        }
        // The mark goes in before the move: an arrived container is never without it, so
        // an abort may still remove it and its monitor freezes it until the commit.
        try lease.write(staging(name))
        try syscall("rename", path: to) { rename(from, to) }
    }

    /// The source lets go: the copy becomes this host's and runs, if its lease still allows.
    private func commit(_ name: ContainerName) throws(FerryError) {
        let layout = root.layout(of: name)
        guard let lease = MigrationLease.read(layout) else { return }  // committed already
        guard lease.allowsCommit(at: BootClock.now) else {
            throw FerryError(
                .declined,
                lease.state == .fenced
                    ? "the copy of \(name) here was fenced: its lease ran out before the commit"
                    : "the lease of the copy of \(name) here is running out; it will be fenced")
        }
        // Liveness before commit: a copy whose init died after its restore is not taken.
        let runtime = try manager.runtime(name)
        // (An offline arrival, without a deadline, was never meant to run.)
        guard lease.deadline == nil || Self.isAlive(runtime) else {
            throw FerryError(.declined, "the restored copy of \(name) here is not running any more")
        }
        let network = runtime.config.network
        let initPid: pid_t? = if case .running(let state) = runtime.loadState() { state.initPid } else { nil }
        // The copy's network opens first: a failure here leaves it pending, for an abort.
        if network != nil, let initPid { try NetworkLock.open(initPid: initPid, tasks: runtime.cgroup.pids) }
        unlink(MigrationLease.path(layout))
        if runtime.cgroup.isFreezeRequested { try runtime.cgroup.thaw() }
        if let network, let initPid {
            do throws(FerryError) {
                try NetworkAttachment(network: network, container: name).announce(initPid: initPid)
            } catch {
                manager.logger.warning("could not announce the container's addresses", metadata: ["container": "\(name)", "error": "\(error.message)"])
            }
        }
    }

    private func held(_ name: ContainerName) -> AgentResponse.Held {
        if access(staging(name).directory, F_OK) == 0 { return .staged }
        let layout = root.layout(of: name)
        guard access(layout.directory, F_OK) == 0 else { return .nothing }
        switch MigrationLease.read(layout)?.state {
        case nil: return .owned
        case .pending:
            // Pending and alive, or as good as fenced: nothing of it runs here.
            guard let lease = MigrationLease.read(layout), lease.deadline != nil else { return .pending }
            guard let runtime = try? manager.runtime(name), Self.isAlive(runtime) else { return .fenced }
            return .pending
        case .fenced: return .fenced
        }
    }

    /// Removes what a migration left: a staged directory, or an arrived container (stopped
    /// first) that still carries the migration's mark.
    private func abort(_ name: ContainerName) throws(FerryError) {
        let staged = staging(name).directory
        if access(staged, F_OK) == 0 {
            try unmountStaged(name)
            try removeTree(staged)
        }
        let arrived = root.layout(of: name).directory
        guard MigrationLease.read(root.layout(of: name)) != nil else { return }
        switch try manager.runtime(name).loadState() {
        case .stopped: break
        case .unreadable(let error): throw error
        case .running, .crashed: try manager.stop(name, timeout: 0)
        }
        // Its monitor removes an uncommitted copy itself once its init is gone.
        guard access(arrived, F_OK) == 0 else { return }
        try manager.destroy(name)
    }

    /// Whether a (frozen) copy's init lives and will go on living once thawed: a SIGKILL
    /// sent to a frozen task waits, pending, and kills it the moment it is thawed.
    static func isAlive(_ runtime: ContainerRuntime) -> Bool {
        guard case .running(let state) = runtime.loadState(), let status = ProcFS.Status(of: "\(state.initPid)") else { return false }
        let killBit: UInt64 = 1 << UInt64(SIGKILL - 1)
        return (status.mask("SigPnd") | status.mask("ShdPnd")) & killBit == 0
    }

    /// The address the source's ssh reached this host at (SSH_CONNECTION's third field):
    /// the image stream listens there, on the network the source already uses.
    static var sshServerAddress: String? {
        guard let connection = ProcessInfo.processInfo.environment["SSH_CONNECTION"] else { return nil }
        let fields = connection.split(separator: " ")
        return fields.count == 4 ? String(fields[2]) : nil
    }

    /// This host as the admin names it (the test hosts set FERRY_HOST).
    static var hostName: String {
        ProcessInfo.processInfo.environment["FERRY_HOST"] ?? ProcessInfo.processInfo.hostName
    }

    static func freeBytes(_ path: String) -> UInt64 {
        var info = statvfs()
        guard statvfs(path, &info) == 0 else { return 0 }
        return UInt64(info.f_bavail) * UInt64(info.f_frsize)
    }

}

/// The image streams an agent has open, by container.
final class ImageStreams: @unchecked Sendable {
    private let lock = NSLock()
    private var open: [String: ImageStreamReceiver] = [:]

    /// Keeps `receiver` for `container`, cancelling one opened before (a retried request).
    func replace(_ container: String, with receiver: ImageStreamReceiver) {
        let old = lock.withLock { open.updateValue(receiver, forKey: container) }
        old?.cancel()
    }

    @discardableResult
    func take(_ container: String) -> ImageStreamReceiver? {
        lock.withLock { open.removeValue(forKey: container) }
    }

    func cancelAll() {
        let all = lock.withLock { () -> [ImageStreamReceiver] in
            defer { open = [:] }
            return Array(open.values)
        }
        all.forEach { $0.cancel() }
    }
}
