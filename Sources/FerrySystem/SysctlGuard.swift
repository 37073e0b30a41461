internal import CLinux
import FerryErrors
import Glibc
import SystemPackage

/// A cgroup BPF program (BPF_PROG_TYPE_CGROUP_SYSCTL) that refuses every sysctl write
/// but a few named ones and subtrees to the tasks of one cgroup and its descendants.
///
/// The kernel lets any task whose effective uid is the host's root write a sysctl through
/// any proc it can reach, and a container's root can always mount a fresh proc: a
/// read-only /proc/sys is no answer on its own. The kernel runs this program on every
/// sysctl read and write of a task in the cgroup, whatever proc the file was opened
/// through, so a host-wide setting stays out of reach while the container's own network
/// namespace's (`net/…`) stays writable. It is attached to the container's cgroup2
/// directory with no flags, so nothing below may replace it; it lives as long as the
/// cgroup, and each host's monitor attaches it again to the cgroup it creates (CRIU does
/// not carry BPF programs). Only the host's root may detach it, and the container's
/// seccomp filter denies bpf(2).
public struct SysctlGuard: Sendable, Equatable {
    /// One instruction: struct bpf_insn's fields.
    public struct Instruction: Sendable, Equatable {
        public let code: UInt8
        public let destination: UInt8
        public let source: UInt8
        public let offset: Int16
        public let immediate: Int32
    }

    /// The sysctls that may be written: a name ("kernel/hostname") or a whole subtree
    /// ("net/", with the slash).
    public let writable: [String]
    public let instructions: [Instruction]

    /// The program reads the name into this many bytes: a pattern must be shorter.
    public static let nameBytes = 32

    public init(writable: [String]) {
        self.writable = writable
        // A subtree matches as a prefix; a name only whole, with the NUL after it.
        instructions = Self.program(writable: writable.map { Array($0.utf8) + ($0.hasSuffix("/") ? [] : [0]) })
    }

    // eBPF opcodes (linux/bpf.h, linux/bpf_common.h).
    public static let move64Register: UInt8 = 0xBF  // BPF_ALU64 | BPF_MOV | BPF_X
    public static let move64Constant: UInt8 = 0xB7  // BPF_ALU64 | BPF_MOV | BPF_K
    public static let add64Constant: UInt8 = 0x07  // BPF_ALU64 | BPF_ADD | BPF_K
    public static let loadWord: UInt8 = 0x61  // BPF_LDX | BPF_MEM | BPF_W
    public static let loadByte: UInt8 = 0x71  // BPF_LDX | BPF_MEM | BPF_B
    public static let jumpIfEqual: UInt8 = 0x15  // BPF_JMP | BPF_JEQ | BPF_K
    public static let jumpIfNotEqual: UInt8 = 0x55  // BPF_JMP | BPF_JNE | BPF_K
    public static let jumpAlways: UInt8 = 0x05  // BPF_JMP | BPF_JA
    public static let call: UInt8 = 0x85  // BPF_JMP | BPF_CALL
    public static let exit: UInt8 = 0x95  // BPF_JMP | BPF_EXIT
    /// BPF_FUNC_sysctl_get_name.
    public static let getName: Int32 = 101
    /// The registers: r0 result, r1–r5 arguments, r6 saved context, r10 frame pointer.
    public static let (r0, r1, r2, r3, r4, r6, r10): (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) = (0, 1, 2, 3, 4, 6, 10)

    /// Reads allowed; a write allowed when the full name ("vm/swappiness") with its NUL
    /// starts with one of `prefixes`, refused (EPERM) otherwise.
    static func program(writable prefixes: [[UInt8]]) -> [Instruction] {
        precondition(prefixes.allSatisfy { $0.count <= nameBytes }, "a writable sysctl must be shorter than \(nameBytes) bytes")
        var body: [Instruction] = []
        func add(_ code: UInt8, _ destination: UInt8 = 0, _ source: UInt8 = 0, offset: Int = 0, _ immediate: Int32 = 0) {
            body.append(.init(code: code, destination: destination, source: source, offset: Int16(offset), immediate: immediate))
        }
        let buffer = -nameBytes
        // Each prefix is a block of a load and a test per byte and a jump to "allow";
        // jumps count the instructions skipped.
        let compared = prefixes.reduce(0) { $0 + 2 * $1.count + 1 }
        add(move64Register, r6, r1)  // r6 = the context
        add(loadWord, r0, r1)  // r0 = ctx->write
        // A read: over the name lookup (6), the blocks and "deny" (2) to "allow".
        add(jumpIfEqual, r0, offset: 6 + compared + 2, 0)
        add(move64Register, r2, r10)
        add(add64Constant, r2, 0, Int32(buffer))
        add(move64Constant, r3, 0, Int32(nameBytes))
        add(move64Constant, r4, 0, 0)  // the full name, not the base name
        add(move64Register, r1, r6)
        add(call, 0, 0, getName)
        var after = compared
        for prefix in prefixes {
            after -= 2 * prefix.count + 1
            for (index, byte) in prefix.enumerated() {
                add(loadByte, r1, r10, offset: buffer + index)
                // Not this prefix: over the rest of its tests and its jump, to the next block.
                add(jumpIfNotEqual, r1, offset: 2 * (prefix.count - index - 1) + 1, Int32(byte))
            }
            // This prefix: over the later blocks and "deny" to "allow".
            add(jumpAlways, offset: after + 2)
        }
        add(move64Constant, r0, 0, 0)  // deny
        add(exit)
        add(move64Constant, r0, 0, 1)  // allow
        add(exit)
        return body
    }

    /// Loads the program and attaches it to the cgroup2 directory `cgroup`.
    /// The corresponding C function is `bpf` (BPF_PROG_LOAD, BPF_PROG_ATTACH).
    public func attach(to cgroup: String) throws(FerryError) {
        let codes = instructions.map(\.code)
        let registers = instructions.map { $0.destination | $0.source << 4 }
        let offsets = instructions.map(\.offset)
        let immediates = instructions.map(\.immediate)
        let count = UInt32(instructions.count)
        // BPF_PROG_TYPE_CGROUP_SYSCTL and BPF_CGROUP_SYSCTL. Loaded without a log (a log too
        // small for the verifier's trace fails the load); on failure again, for the reason.
        var loaded = fy_bpf_prog_load(23, 18, codes, registers, offsets, immediates, count, nil, 0)
        guard loaded >= 0 else {
            let reason = Errno(rawValue: errno)
            var log = [CChar](repeating: 0, count: 1 << 20)
            loaded = fy_bpf_prog_load(23, 18, codes, registers, offsets, immediates, count, &log, UInt32(log.count))
            if loaded >= 0 { close(loaded) }
            let verifier = String(decoding: log.prefix { $0 != 0 }.suffix(400).map { UInt8(bitPattern: $0) }, as: UTF8.self)
            throw FerryError.system(
                "bpf(BPF_PROG_LOAD, cgroup/sysctl)", reason,
                "cannot load the sysctl guard: \(reason)\(verifier.isEmpty ? "" : "; the verifier said: \(verifier)")")
        }
        let program = OwnedFileDescriptor(taking: loaded)
        let directory = try OwnedFileDescriptor.open(cgroup, O_RDONLY | O_DIRECTORY)
        try syscall("bpf(BPF_PROG_ATTACH, cgroup/sysctl)", path: cgroup) { fy_bpf_prog_attach(program.rawValue, directory.rawValue, 18, 0) }
    }
}
