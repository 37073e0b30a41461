internal import CLinux
import FerryErrors
import Glibc

/// Ctrl-C, SIGTERM and SIGHUP during work that must not be left half-done (a migration).
///
/// Armed, ferry no longer dies at such a signal: it records the first one, and while the
/// work may still be cancelled it ends the helpers started as `.endsOnInterrupt` (ssh,
/// rsync), so that whatever waits on them fails at once. The work checks `check()` between
/// its steps and turns the failure into its rollback. Past the point of no return (or in
/// the rollback itself), `cancelling` is off: the signal is only recorded, the helpers run
/// on, and ferry says it is finishing.
///
/// Helpers started with an own process group are out of the terminal's reach: a Ctrl-C
/// reaches ferry only, and ferry decides (a CRIU half-way through a dump is never killed).
public enum Interruption {
    /// Installs the handler; from now on the three signals no longer end ferry.
    public static func arm() throws(FerryError) {
        _ = try syscall("sigaction") { fy_interrupt_install() }
    }

    /// The first interrupting signal received, nil while none has come.
    public static var signal: Int32? {
        let number = fy_interrupt_signal()
        return number == 0 ? nil : number
    }

    /// Whether an interruption still ends the cancellable helpers (see the type's doc).
    public static func setCancelling(_ cancelling: Bool) {
        fy_interrupt_set_cancelling(cancelling ? 1 : 0)
    }

    /// Throws `.interrupted` once a signal has come.
    public static func check(before step: String? = nil) throws(FerryError) {
        if let signal { throw error(signal, during: step) }
    }

    /// The error an interruption by `signal` becomes, `during` a named step; `cause` is
    /// what failed because of it (a helper it ended).
    public static func error(_ signal: Int32, during step: String? = nil, cause: FerryError? = nil) -> FerryError {
        FerryError(.interrupted, "interrupted by \(name(of: signal))\(step.map { " during \($0)" } ?? "")", cause: cause.map { .error($0) })
    }

    /// SIGINT, SIGTERM, SIGHUP by name, as admins know them.
    public static func name(of signal: Int32) -> String {
        switch signal {
        case SIGINT: "SIGINT"
        case SIGTERM: "SIGTERM"
        case SIGHUP: "SIGHUP"
        default: "signal \(signal)"
        }
    }

    static func register(group: pid_t) { fy_interrupt_register_group(group) }
    static func unregister(group: pid_t) { fy_interrupt_unregister_group(group) }
}
