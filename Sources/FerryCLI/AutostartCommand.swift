import ArgumentParser
import FerryCheckpoint
import FerryContainers
import FerryErrors

/// `ferry autostart`: brings back every autostart container of the state root, e.g. from
/// contrib/ferry-autostart.service at boot.
struct AutostartCommand: FerrySubcommand {
    static let configuration = CommandConfiguration(
        commandName: "autostart",
        abstract: "Start (or resume from its unused checkpoint) every autostart container that is not running.",
        discussion: """
            Each container is tried, in name order, even after another failed; the exit status is 1 if any failed.

            Examples:
              ferry autostart
              ferry --root /var/lib/ferry autostart
            """)
    @OptionGroup var global: GlobalOptions

    func run() throws {
        let manager = try global.manager()
        let plan = manager.autostartPlan()
        var failed: [String] = []
        for (name, action) in plan.rows {
            do throws(FerryError) {
                switch action {
                case .start:
                    printLine("\(name): started (init pid \(try manager.start(name)))")
                case .restore:
                    let result = try Restorer(manager: manager, engine: global.engine).restore(name, from: nil, remap: .init())
                    printLine("\(name): restored from its checkpoint (init pid \(result.pid))")
                case .running(let pid):
                    printLine("\(name): already running (init pid \(pid))")
                case .skip(let reason):
                    printLine("\(name): skipped: \(reason)")
                case .refuse(let reason):
                    throw FerryError(.invalidState, reason)
                }
            } catch {
                failed.append(name.value)
                printLine("\(name): failed: \(global.verbose ? error.detailedDescription : error.message)")
            }
        }
        if plan.rows.isEmpty { printLine("no autostart containers under \(manager.root.path)") }
        guard failed.isEmpty else {
            throw FerryError(.commandFailed, "autostart failed for \(failed.joined(separator: ", ")) (of \(plan.rows.count))")
        }
    }
}
