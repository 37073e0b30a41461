import FerryErrors
import FerrySystem
import Glibc
import SwiftProtobuf

/// A CRIU notification: CRIU stops at an action-script point and waits for Ferry's answer.
/// This is where Ferry does its own work around CRIU's (for example mounts after
/// `setup-namespaces`, or unfreezing a network share after `post-dump`).
public struct CRIUNotification: Sendable {
    public var script: String
    /// The pid CRIU reports with it (the restored init at post-restore), 0 if none.
    public var pid: Int32
}

/// Called for each notification; throwing makes CRIU abort the operation.
public typealias CRIUNotificationHandler = (CRIUNotification) throws(FerryError) -> Void

/// Drives one CRIU operation over the RPC protocol.
public struct CRIUClient: Sendable {
    public let engine: CRIUEngine

    public init(engine: CRIUEngine) {
        self.engine = engine
    }

    /// What to dump and where.
    public struct DumpRequest {
        public var pid: Int32
        public var imagesDirectory: OwnedFileDescriptor
        /// Where CRIU writes its log (kept out of the image directory).
        public var workDirectory: OwnedFileDescriptor
        public var logPath: String
        public var leaveRunning = false
        /// `mnt[PATH]:KEY` entries for host paths bound into the container.
        public var externals: [String] = []
        public var freezeCgroup: String?
        public var timeoutSeconds: UInt32 = 60
        /// How long CRIU may take before Ferry kills it: a dump can hang for ever (a task in
        /// D state on an automount whose daemon is frozen, for one).
        public var watchdogSeconds = CRIUClient.defaultWatchdogSeconds
        /// A connected stream socket to a page server: the memory pages go there, as CRIU
        /// reads them, instead of into the images directory (nil: they are written there).
        public var pageServer: OwnedFileDescriptor?
        /// A post-copy dump (see `LazyPagesServer`): the memory stays in the frozen tasks
        /// and CRIU serves it once the other images are written.
        public var lazyPages: LazyPagesServer?

        public init(pid: Int32, imagesDirectory: OwnedFileDescriptor, workDirectory: OwnedFileDescriptor, logPath: String) {
            self.pid = pid
            self.imagesDirectory = imagesDirectory
            self.workDirectory = workDirectory
            self.logPath = logPath
        }
    }

    public struct RestoreRequest {
        public var imagesDirectory: OwnedFileDescriptor
        public var workDirectory: OwnedFileDescriptor
        public var logPath: String
        /// The container root as mounted on this host (CRIU's --root).
        public var root: String
        /// `mnt[KEY]:HOSTPATH` entries.
        public var externals: [String] = []
        /// How long CRIU may take before Ferry kills it.
        public var watchdogSeconds = CRIUClient.defaultWatchdogSeconds
        /// The container's cgroup on this host (e.g. /ferry/TAG/NAME): CRIU puts the tree's
        /// cgroups back below it in every hierarchy, as they were below the container's
        /// cgroup at the dump (its cgroup namespace included).
        public var cgroupRoot: String?
        /// Descriptors of ours that CRIU uses for the dumped files named by their keys
        /// (`pipe:[INODE]`): the restored tasks get them instead of new ones.
        public var inherited: [(key: String, descriptor: OwnedFileDescriptor)] = []
        /// The memory comes later, through the `criu lazy-pages` daemon listening in the
        /// work directory (see `LazyPagesDaemon`); the tasks fault it in as they run.
        public var lazyPages = false

        public init(imagesDirectory: OwnedFileDescriptor, workDirectory: OwnedFileDescriptor, logPath: String, root: String) {
            self.imagesDirectory = imagesDirectory
            self.workDirectory = workDirectory
            self.logPath = logPath
            self.root = root
        }
    }

    /// Checkpoints the process tree rooted at `request.pid`.
    public func dump(_ request: DumpRequest, notify: CRIUNotificationHandler = { _ throws(FerryError) in }) throws(FerryError) {
        var options = baseOptions(images: request.imagesDirectory, work: request.workDirectory, logPath: request.logPath)
        options.pid = request.pid
        options.leaveRunning = request.leaveRunning
        options.external = request.externals
        options.fileLocks = true
        // inotify watches (systemd keeps dozens) are dumped by file handle, which names an
        // inode: a restore from a copied tree (another state root, another host) finds none.
        // With the inode's path resolved at dump, CRIU reopens the watch by path instead.
        options.forceIrmap = true
        // Established TCP connections move with the container (TCP repair); CRIU locks the
        // container's network namespace from the freeze on, so no segment leaves and none
        // is answered with a reset until the restored copy takes over.
        options.tcpEstablished = true
        options.timeout = request.timeoutSeconds
        if let cgroup = request.freezeCgroup { options.freezeCgroup = cgroup }
        var passed: [Int32] = []
        if let socket = request.pageServer {
            options.ps = Self.pageServerInfo(descriptor: Self.firstPassedDescriptor)
            passed = [socket.rawValue]
        }
        if let lazy = request.lazyPages {
            options.lazyPages = true
            var info = Ferry_Criu_criu_page_server_info()
            info.port = Int32(lazy.port)
            options.ps = info
            options.configFile = lazy.configFile
        }
        var message = Ferry_Criu_criu_req()
        message.type = .dump
        message.opts = options
        _ = try call(message, what: "dump", logPath: request.logPath, watchdog: request.watchdogSeconds, passing: passed, notify: notify)
    }

    /// What a page server writes and where it logs. (Sendable: it is served on a thread of
    /// its own while Ferry feeds the socket; the descriptors are only read.)
    public struct PageServerRequest: @unchecked Sendable {
        public var imagesDirectory: OwnedFileDescriptor
        public var workDirectory: OwnedFileDescriptor
        public var logPath: String
        /// The connected stream socket the dumping CRIU sends its pages over.
        public var socket: OwnedFileDescriptor
        public var watchdogSeconds = CRIUClient.defaultWatchdogSeconds

        public init(imagesDirectory: OwnedFileDescriptor, workDirectory: OwnedFileDescriptor, logPath: String, socket: OwnedFileDescriptor) {
            self.imagesDirectory = imagesDirectory
            self.workDirectory = workDirectory
            self.logPath = logPath
            self.socket = socket
        }
    }

    /// Serves one dump's pages from `request.socket` into the images directory (pagemap and
    /// pages images) until the dumping CRIU says it is done; fails when the page server
    /// does not exit 0 (a stream cut short: "The data were not flushed").
    ///
    /// CRIU keeps the page server as a child of this swrk (PAGE_SERVER_CHLD) and reports
    /// its exit through WAIT_PID on the same connection, so its verdict is an exit status
    /// Ferry reads, not a log line it greps.
    public func servePages(_ request: PageServerRequest) throws(FerryError) {
        var options = baseOptions(images: request.imagesDirectory, work: request.workDirectory, logPath: request.logPath)
        options.ps = Self.pageServerInfo(descriptor: Self.firstPassedDescriptor)
        options.notifyScripts = false
        var message = Ferry_Criu_criu_req()
        message.type = .pageServerChld
        message.opts = options
        message.keepOpen = true
        let connection = try CRIUConnection(engine: engine, extraDescriptors: [request.socket.rawValue])
        // CRIU holds its own copy now: once its page server exits, the other end of the
        // pair reads end of file.
        request.socket.close()
        let deadline = Monotonic.now + request.watchdogSeconds
        let started = try exchange(connection, message, what: "page server", logPath: request.logPath, deadline: deadline)
        guard started.ps.hasPid else {
            connection.kill()
            throw failure("page server", logPath: request.logPath, detail: "CRIU did not say which page server it started")
        }
        var wait = Ferry_Criu_criu_req()
        wait.type = .waitPid
        wait.pid = UInt32(started.ps.pid)
        let waited = try exchange(connection, wait, what: "page server", logPath: request.logPath, deadline: deadline)
        connection.finish()
        let status = waited.status
        // A wait status: exited normally with 0, or it failed.
        guard status & 0x7f == 0, (status >> 8) & 0xff == 0 else {
            let how = status & 0x7f == 0 ? "exited with status \((status >> 8) & 0xff)" : "was killed by signal \(status & 0x7f)"
            throw failure("page server", logPath: request.logPath, detail: "the page server \(how)")
        }
    }

    /// Sends one request and returns its successful answer (no notifications expected).
    private func exchange(
        _ connection: CRIUConnection, _ request: Ferry_Criu_criu_req, what: String, logPath: String, deadline: Double
    ) throws(FerryError) -> Ferry_Criu_criu_resp {
        try connection.send(try serialize(request))
        let response = try nextResponse(connection, what: what, logPath: logPath, deadline: deadline)
        guard response.success else {
            connection.kill()
            throw failure(what, logPath: logPath, detail: response.crErrmsg)
        }
        return response
    }

    /// CRIU's next message, decoded; CRIU is killed when it has not answered by `deadline`
    /// (the watchdog), and its silent exit is a failure quoting its log.
    private func nextResponse(
        _ connection: CRIUConnection, what: String, logPath: String?, deadline: Double
    ) throws(FerryError) -> Ferry_Criu_criu_resp {
        let bytes: [UInt8]?
        do throws(FerryError) {
            bytes = try connection.receive(timeout: max(deadline - Monotonic.now, 0.001))
        } catch where error.code == .timedOut {
            connection.kill()
            throw FerryError(
                .timedOut,
                "CRIU \(what) did not finish in time, so Ferry killed it (watchdog; FERRY_CRIU_WATCHDOG sets it)\(logPath.map { " (log: \($0))" } ?? "")",
                cause: .error(error))
        }
        guard let bytes else {
            let status = connection.finish()
            throw failure(what, logPath: logPath, detail: "CRIU exited with status \(status) without answering")
        }
        do {
            return try Ferry_Criu_criu_resp(serializedBytes: bytes)
        } catch {
            throw FerryError(.criuFailed, "CRIU sent a reply Ferry cannot decode", cause: .error(error))
        }
    }

    /// Descriptors Ferry passes to `criu swrk` start at 4 (3 is the RPC socket); CRIU uses
    /// a page server socket by that number.
    static let firstPassedDescriptor: Int32 = 4

    private static func pageServerInfo(descriptor: Int32) -> Ferry_Criu_criu_page_server_info {
        var info = Ferry_Criu_criu_page_server_info()
        info.fd = descriptor
        return info
    }

    /// Restores a tree as a sibling of CRIU, i.e. as the caller's child; returns its pid.
    /// `started` sees CRIU's pid before the request is sent: the restored tasks inherit
    /// CRIU's cgroups, so that is the moment to move CRIU into the container's cgroup.
    public func restore(
        _ request: RestoreRequest, started: (pid_t) throws(FerryError) -> Void = { _ throws(FerryError) in },
        notify: CRIUNotificationHandler = { _ throws(FerryError) in }
    ) throws(FerryError) -> pid_t {
        var options = baseOptions(images: request.imagesDirectory, work: request.workDirectory, logPath: request.logPath)
        options.root = request.root
        options.external = request.externals
        options.rstSibling = true
        options.fileLocks = true
        options.tcpEstablished = true
        if request.lazyPages { options.lazyPages = true }
        if let cgroupRoot = request.cgroupRoot {
            var root = Ferry_Criu_cgroup_root()
            root.path = cgroupRoot
            options.cgRoot = [root]
            options.manageCgroupsMode = .soft
        } else {
            // The caller places the tree in its cgroup itself.
            options.manageCgroupsMode = .ignore
        }
        options.inheritFd = request.inherited.enumerated().map { index, entry in
            var inherited = Ferry_Criu_inherit_fd()
            inherited.key = entry.key
            inherited.fd = Self.firstPassedDescriptor + Int32(index)
            return inherited
        }
        var message = Ferry_Criu_criu_req()
        message.type = .restore
        message.opts = options
        let response = try call(
            message, what: "restore", logPath: request.logPath, watchdog: request.watchdogSeconds,
            started: started, passing: request.inherited.map(\.descriptor.rawValue), notify: notify)
        return response.restore.pid
    }


    private func baseOptions(images: OwnedFileDescriptor, work: OwnedFileDescriptor, logPath: String) -> Ferry_Criu_criu_opts {
        var options = Ferry_Criu_criu_opts()
        // CRIU opens these through /proc/<our pid>/fd/N: the swrk peer is this process.
        options.imagesDirFd = images.rawValue
        options.workDirFd = work.rawValue
        options.logFile = String(logPath.split(separator: "/").last ?? "criu.log")
        options.logLevel = 4
        options.notifyScripts = true
        return options
    }

    /// Sends a request, answers notifications until the final response, checks success.
    /// The watchdog's default, or `FERRY_CRIU_WATCHDOG` seconds.
    public static var defaultWatchdogSeconds: Double {
        getenv("FERRY_CRIU_WATCHDOG").flatMap { Double(String(cString: $0)) }.map { max($0, 1) } ?? 300
    }

    private func call(
        _ request: Ferry_Criu_criu_req, what: String, logPath: String?, watchdog: Double,
        started: (pid_t) throws(FerryError) -> Void = { _ throws(FerryError) in }, passing: [Int32] = [],
        notify: CRIUNotificationHandler
    ) throws(FerryError) -> Ferry_Criu_criu_resp {
        let connection = try CRIUConnection(engine: engine, extraDescriptors: passing)
        try started(connection.pid)
        try connection.send(try serialize(request))
        let deadline = Monotonic.now + watchdog
        while true {
            let response = try nextResponse(connection, what: what, logPath: logPath, deadline: deadline)
            if response.type == .notify {
                var answer = Ferry_Criu_criu_req()
                answer.type = .notify
                answer.notifySuccess = true
                var handlerError: FerryError?
                do throws(FerryError) {
                    try notify(CRIUNotification(script: response.notify.script, pid: response.notify.pid))
                } catch {
                    handlerError = error
                    answer.notifySuccess = false
                }
                try connection.send(try serialize(answer))
                if let handlerError { throw handlerError }
                continue
            }
            connection.finish()
            guard response.success else {
                var detail = response.crErrmsg.isEmpty ? "" : response.crErrmsg
                if response.crErrno != 0 {
                    detail += (detail.isEmpty ? "" : "; ") + "errno \(response.crErrno) (\(String(cString: strerror(response.crErrno))))"
                }
                throw failure(what, logPath: logPath, detail: detail)
            }
            return response
        }
    }

    private func serialize(_ message: Ferry_Criu_criu_req) throws(FerryError) -> [UInt8] {
        do {
            return try message.serializedBytes()
        } catch {
            throw FerryError(.criuFailed, "cannot encode a CRIU request", cause: .error(error))
        }
    }

    /// A CRIU failure quoting CRIU's own words: its reply, or else the log's error lines.
    private func failure(_ what: String, logPath: String?, detail: String) -> FerryError {
        let logErrors = logPath.map { CRIULog.errors(at: $0) } ?? []
        var message = "CRIU \(what) failed"
        // The first error is the cause; later ones ("Dumping FAILED.") only report the outcome.
        if let first = logErrors.first ?? (detail.isEmpty ? nil : detail) { message += ": \(first)" }
        if let logPath { message += " (log: \(logPath))" }
        let causeText = ([detail] + logErrors).filter { !$0.isEmpty }.joined(separator: "\n")
        return FerryError(.criuFailed, message, cause: .output(command: "criu \(what)", status: 1, text: causeText))
    }
}

/// Reading CRIU's log for the lines that explain a failure.
public enum CRIULog {
    /// Error lines every run prints here and that never explain a failure: the RLIMIT_NOFILE
    /// one, `ip addr restore` finding lo's addresses already there, and the probe for tun
    /// support that the container's device rules refuse (a container that uses tun fails
    /// with a tun error of its own, later).
    static let harmless = ["RLIMIT_NOFILE", "TCP_CORK", "Address already assigned", "address already assigned", "Unable to create tun"]

    /// The first "Error" lines, without the harmless ones.
    public static func errors(at path: String) -> [String] {
        guard let text = try? readText(path) else { return [] }
        return text.split(separator: "\n")
            .filter { line in line.contains("Error") && !harmless.contains { line.contains($0) } }
            .prefix(5)
            .map { line in
                // Drop the "(00.123456) " timestamp prefix.
                let trimmed = line.drop(while: { $0 != ")" }).dropFirst().drop(while: { $0 == " " })
                return trimmed.isEmpty ? String(line) : String(trimmed)
            }
    }
}
