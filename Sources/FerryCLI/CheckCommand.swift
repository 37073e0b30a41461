import ArgumentParser
import FerryCRIU
import FerryErrors
import FerrySystem

/// `ferry check`: can this host run and migrate containers?
struct CheckCommand: JSONCommand {
    static let configuration = CommandConfiguration(
        commandName: "check", abstract: "Probe the kernel and CRIU; exit non-zero when Ferry cannot work here.",
        discussion: """
            Examples:
              ferry check
              ferry check --json
            """)

    @OptionGroup var global: GlobalOptions
    @Flag(help: "Print the verdicts as JSON.") var json = false

    struct Verdict: Codable {
        var capability: String
        var ok: Bool
        /// Required capabilities fail the check; others only limit what Ferry can do.
        var required: Bool
        var detail: String
    }

    struct Report: Encodable {
        var kernel: String
        var criuPath: String
        var criuVersion: String?
        var verdicts: [Verdict]
        var ok: Bool

        enum CodingKeys: String, CodingKey { case kernel, criuPath, criuVersion, verdicts, ok }

        /// `criuVersion` is `null` when CRIU could not be run, never missing.
        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(kernel, forKey: .kernel)
            try container.encode(criuPath, forKey: .criuPath)
            try container.encode(criuVersion, forKey: .criuVersion)
            try container.encode(verdicts, forKey: .verdicts)
            try container.encode(ok, forKey: .ok)
        }
    }

    func run() throws {
        let features = KernelFeatures.probe()
        let engine = global.engine
        // Only what Ferry uses: soft-dirty tracking (pre-dumps) is probed for the agent's
        // report, but no migration uses it, so an "ok" for it here would promise what Ferry
        // does not do. userfaultfd is what `migrate --postcopy` needs on the target.
        var verdicts: [Verdict] = [
            Verdict(capability: "mount API (fsopen, open_tree, move_mount)", ok: features.mountAPI, required: true, detail: "builds container mounts"),
            Verdict(capability: "MOVE_MOUNT_SET_GROUP", ok: features.moveMountSetGroup, required: false, detail: "CRIU mount-v2: restores peer groups exactly"),
            Verdict(capability: "openat2", ok: features.openat2, required: true, detail: "resolves paths inside container roots safely"),
            Verdict(capability: "pidfd", ok: features.pidfd, required: true, detail: "signals and waits for container inits"),
            Verdict(capability: "cgroup freezer", ok: features.cgroupFreezer, required: true, detail: "freezes a container as a whole"),
            Verdict(capability: "overlayfs", ok: features.overlayfs, required: false, detail: "--overlay roots"),
            Verdict(capability: "loop devices", ok: features.loop, required: false, detail: "insulated storage in image files"),
            Verdict(capability: "autofs", ok: features.autofs, required: false, detail: "automount inside containers"),
            Verdict(capability: "FUSE", ok: features.fuse, required: false, detail: "network shares and placeholder filesystems"),
            Verdict(capability: "userfaultfd", ok: features.userfaultfd, required: false, detail: "migrate --postcopy to this host (lazy pages)"),
        ]
        var versionText: String?
        do throws(FerryError) {
            let version = try engine.version()
            versionText = version.description
            let recent = version >= CRIUEngine.minimumVersion
            verdicts.append(Verdict(
                capability: "CRIU version", ok: recent, required: true,
                detail: recent ? "CRIU \(version) at \(engine.path)" : "CRIU \(version) at \(engine.path) is older than \(CRIUEngine.minimumVersion); run scripts/setup"))
            let check = try engine.check()
            verdicts.append(Verdict(
                capability: "criu check", ok: check.ok, required: true,
                detail: check.ok ? "Looks good" : (check.text.split(separator: "\n").last.map(String.init) ?? "failed")))
        } catch {
            verdicts.append(Verdict(capability: "CRIU", ok: false, required: true, detail: error.message))
        }
        let ok = verdicts.allSatisfy { $0.ok || !$0.required }
        let report = Report(kernel: features.release, criuPath: engine.path, criuVersion: versionText, verdicts: verdicts, ok: ok)
        if json {
            try JSONOutput.document("check", report)
        } else {
            printLine("kernel \(features.release)")
            for verdict in verdicts {
                let mark = verdict.ok ? "ok  " : (verdict.required ? "FAIL" : "no  ")
                printLine("\(mark) \(verdict.capability): \(verdict.detail)")
            }
            printLine(ok ? "Ferry can run on this host." : "Ferry cannot run on this host: fix the FAIL lines above.")
        }
        if !ok { throw ExitCode(1) }
    }
}
