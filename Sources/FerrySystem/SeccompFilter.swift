internal import CLinux
import FerryErrors

/// A seccomp program that answers `errno` to a set of system calls and lets every other
/// one through: a deny list, as Docker's and LXC's default profiles are, because a system
/// container runs a whole distro whose needs no allow list can foresee.
///
/// It is classic BPF, built here once from the numbers and installed by the container's
/// init and `ferry exec` before they exec; children inherit it, and CRIU dumps and
/// restores it with each task. Both x86 ABIs a 64-bit kernel runs are covered: a call
/// through the 32-bit entry (`int $0x80`) has other numbers, and an x32 call is the 64-bit
/// number with bit 30 set, so neither slips past the list.
public struct SeccompFilter: Equatable, Sendable {
    /// One system call, by its number in each ABI (nil: that ABI has no such call).
    public struct Call: Equatable, Sendable {
        public let x86_64: UInt32
        public let i386: UInt32?

        public init(x86_64: UInt32, i386: UInt32?) {
            self.x86_64 = x86_64
            self.i386 = i386
        }
    }

    /// One instruction: struct sock_filter's fields.
    public struct Instruction: Equatable, Sendable {
        public let code: UInt16
        public let jumpIfTrue: UInt8
        public let jumpIfFalse: UInt8
        public let operand: UInt32
    }

    public let instructions: [Instruction]

    /// linux/audit.h's AUDIT_ARCH_X86_64 and AUDIT_ARCH_I386: what seccomp_data.arch holds.
    public static let x86_64Architecture: UInt32 = 0xC000_003E
    public static let i386Architecture: UInt32 = 0x4000_0003
    /// The x32 ABI's mark on a system call number (__X32_SYSCALL_BIT).
    public static let x32Bit: UInt32 = 0x4000_0000

    // Classic BPF opcodes (linux/bpf_common.h) and seccomp's verdicts (linux/seccomp.h).
    static let loadWord: UInt16 = 0x20  // BPF_LD | BPF_W | BPF_ABS
    static let andConstant: UInt16 = 0x54  // BPF_ALU | BPF_AND | BPF_K
    static let jumpIfEqual: UInt16 = 0x15  // BPF_JMP | BPF_JEQ | BPF_K
    static let returnConstant: UInt16 = 0x06  // BPF_RET | BPF_K
    static let allow: UInt32 = 0x7FFF_0000  // SECCOMP_RET_ALLOW
    static let errorReturn: UInt32 = 0x0005_0000  // SECCOMP_RET_ERRNO
    /// struct seccomp_data's offsets: the call's number, then the ABI it came through.
    static let numberOffset: UInt32 = 0
    static let architectureOffset: UInt32 = 4

    /// Every call in `denied` fails with `errno`; anything else, from any ABI, is allowed.
    public init(denying denied: [Call], errno: Int32) {
        let deny = Self.errorReturn | UInt32(errno & 0xFFFF)
        let wide = denied.map(\.x86_64)
        let narrow = denied.compactMap(\.i386)
        var program: [Instruction] = []
        func add(_ code: UInt16, _ operand: UInt32, _ jumpIfTrue: Int = 0, _ jumpIfFalse: Int = 0) {
            program.append(.init(code: code, jumpIfTrue: UInt8(jumpIfTrue), jumpIfFalse: UInt8(jumpIfFalse), operand: operand))
        }
        // A list of numbers to match: each test jumps, when equal, over the tests after it
        // and the "allow" below them to the "deny" that ends the list.
        func list(_ numbers: [UInt32]) {
            for (index, number) in numbers.enumerated() { add(Self.jumpIfEqual, number, numbers.count - index, 0) }
            add(Self.returnConstant, Self.allow)
            add(Self.returnConstant, deny)
        }
        // Jumps count the instructions skipped. The 64-bit block is a load, the x32 mask
        // and its list (the numbers, allow, deny); the i386 block a load and its list.
        add(Self.loadWord, Self.architectureOffset)
        add(Self.jumpIfEqual, Self.x86_64Architecture, 1, 0)
        add(Self.jumpIfEqual, Self.i386Architecture, wide.count + 4, wide.count + 4 + 1 + narrow.count + 2)
        add(Self.loadWord, Self.numberOffset)
        add(Self.andConstant, ~Self.x32Bit)
        list(wide)
        add(Self.loadWord, Self.numberOffset)
        list(narrow)
        // Neither x86 ABI: no such task on an x86_64 host.
        add(Self.returnConstant, Self.allow)
        instructions = program
    }

    /// Installs the program on the calling thread; it stays for the process and its
    /// children. Needs CAP_SYS_ADMIN in the caller's user namespace (no no_new_privs, so
    /// setuid programs inside keep working).
    /// The corresponding C function is `seccomp` (SECCOMP_SET_MODE_FILTER).
    public func install() throws(FerryError) {
        let codes = instructions.map(\.code)
        let trues = instructions.map(\.jumpIfTrue)
        let falses = instructions.map(\.jumpIfFalse)
        let operands = instructions.map(\.operand)
        let count = UInt16(instructions.count)
        try syscall("seccomp(SECCOMP_SET_MODE_FILTER)") { fy_seccomp_filter(codes, trues, falses, operands, count) }
    }
}
