internal import CLinux
import FerryErrors

/// A seccomp program that answers `errno` to a set of system calls — all of a call, or
/// only when one argument matches — and lets every other one through: a deny list, as
/// Docker's and LXC's default profiles are, because a system container runs a whole
/// distro whose needs no allow list can foresee.
///
/// It is classic BPF, built here once from the rules and installed by the container's
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

    /// A condition on one argument: its low 32 bits, masked, equal `value` (a flag word
    /// or an ioctl request; the kernel reads both as 32-bit ints).
    public struct Argument: Equatable, Sendable {
        public let index: UInt32
        public let mask: UInt32
        public let value: UInt32

        public init(index: UInt32, mask: UInt32 = .max, value: UInt32) {
            self.index = index
            self.mask = mask
            self.value = value
        }
    }

    /// A denied call: always, or only when `argument` matches; answered with `errno`, or
    /// with the filter's.
    public struct Rule: Equatable, Sendable {
        public let call: Call
        public let argument: Argument?
        public let errno: Int32?

        public init(_ call: Call, when argument: Argument? = nil, errno: Int32? = nil) {
            self.call = call
            self.argument = argument
            self.errno = errno
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
    public static let loadWord: UInt16 = 0x20  // BPF_LD | BPF_W | BPF_ABS
    public static let andConstant: UInt16 = 0x54  // BPF_ALU | BPF_AND | BPF_K
    public static let jumpIfEqual: UInt16 = 0x15  // BPF_JMP | BPF_JEQ | BPF_K
    public static let jump: UInt16 = 0x05  // BPF_JMP | BPF_JA
    public static let returnConstant: UInt16 = 0x06  // BPF_RET | BPF_K
    public static let allow: UInt32 = 0x7FFF_0000  // SECCOMP_RET_ALLOW
    public static let errorReturn: UInt32 = 0x0005_0000  // SECCOMP_RET_ERRNO
    /// struct seccomp_data's offsets: the call's number, the ABI it came through, and the
    /// arguments (64 bits each; the low half first on this little-endian machine).
    public static let numberOffset: UInt32 = 0
    public static let architectureOffset: UInt32 = 4
    public static func argumentOffset(_ index: UInt32) -> UInt32 { 16 + 8 * index }

    /// Every rule's call fails with its errno or `errno`; anything else, from any ABI, is
    /// allowed.
    public init(denying rules: [Rule], errno: Int32) {
        var assembler = Assembler()
        let x86_64Block = assembler.newLabel()
        let i386Block = assembler.newLabel()
        let allowed = assembler.newLabel()
        // One "deny" per errno the rules answer with.
        let errnos = ([errno] + rules.compactMap(\.errno)).reduce(into: [Int32]()) { if !$0.contains($1) { $0.append($1) } }
        let verdicts = Dictionary(uniqueKeysWithValues: errnos.map { ($0, assembler.newLabel()) })
        let denied = { (rule: Rule) in verdicts[rule.errno ?? errno] ?? allowed }
        assembler.load(Self.architectureOffset)
        assembler.jumpIfEqual(Self.x86_64Architecture, then: x86_64Block)
        // Neither x86 ABI: no such task on an x86_64 host.
        assembler.jumpIfEqual(Self.i386Architecture, then: i386Block, else: allowed)
        assembler.place(x86_64Block)
        assembler.loadNumber(masking: Self.x32Bit)
        assembler.rules(rules.map { ($0.call.x86_64, $0.argument, denied($0)) }, masking: Self.x32Bit)
        assembler.jump(to: allowed)
        assembler.place(i386Block)
        assembler.loadNumber(masking: nil)
        assembler.rules(rules.compactMap { rule in rule.call.i386.map { ($0, rule.argument, denied(rule)) } }, masking: nil)
        assembler.place(allowed)
        assembler.ret(Self.allow)
        for code in errnos {
            assembler.place(verdicts[code] ?? allowed)
            assembler.ret(Self.errorReturn | UInt32(code & 0xFFFF))
        }
        instructions = assembler.resolved()
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

/// Lays out instructions whose jumps name labels, then turns the labels into the
/// forward offsets classic BPF counts (instructions skipped; at most 255, which a list
/// of a few dozen rules never nears).
private struct Assembler {
    typealias Label = Int

    private struct Pending {
        let code: UInt16
        let operand: UInt32
        /// Where each branch goes: nil falls through to the next instruction.
        let whenTrue: Label?
        let whenFalse: Label?
    }

    private var pending: [Pending] = []
    private var labels: [Int?] = []

    mutating func newLabel() -> Label {
        labels.append(nil)
        return labels.count - 1
    }

    mutating func place(_ label: Label) { labels[label] = pending.count }

    mutating func load(_ offset: UInt32) { emit(SeccompFilter.loadWord, offset) }
    mutating func and(_ mask: UInt32) { emit(SeccompFilter.andConstant, mask) }
    mutating func ret(_ verdict: UInt32) { emit(SeccompFilter.returnConstant, verdict) }
    mutating func jump(to label: Label) { emit(SeccompFilter.jump, 0, whenTrue: label) }

    /// A test of the accumulator; an omitted branch falls through.
    mutating func jumpIfEqual(_ value: UInt32, then: Label? = nil, else otherwise: Label? = nil) {
        emit(SeccompFilter.jumpIfEqual, value, whenTrue: then, whenFalse: otherwise)
    }

    /// The call's number into the accumulator, without the bit `mark` (x32's) if given.
    mutating func loadNumber(masking mark: UInt32?) {
        load(SeccompFilter.numberOffset)
        if let mark { and(~mark) }
    }

    /// With the call's number (loaded by `loadNumber(masking: mark)`) in the accumulator:
    /// each rule jumps to its `denied` verdict when its call (and argument) match; a rule
    /// with an argument loads it, then puts the number back the same way.
    mutating func rules(_ rules: [(number: UInt32, argument: SeccompFilter.Argument?, denied: Label)], masking mark: UInt32?) {
        for rule in rules {
            guard let argument = rule.argument else {
                jumpIfEqual(rule.number, then: rule.denied)
                continue
            }
            let next = newLabel()
            jumpIfEqual(rule.number, else: next)
            load(SeccompFilter.argumentOffset(argument.index))
            if argument.mask != .max { and(argument.mask) }
            jumpIfEqual(argument.value, then: rule.denied)
            loadNumber(masking: mark)
            place(next)
        }
    }

    private mutating func emit(_ code: UInt16, _ operand: UInt32, whenTrue: Label? = nil, whenFalse: Label? = nil) {
        pending.append(Pending(code: code, operand: operand, whenTrue: whenTrue, whenFalse: whenFalse))
    }

    func resolved() -> [SeccompFilter.Instruction] {
        pending.enumerated().map { index, instruction in
            func offset(_ label: Label?) -> UInt8 {
                guard let label, let target = labels[label] else { return 0 }
                precondition(target > index && target - index - 1 <= 255, "a seccomp jump must go forward by at most 255")
                return UInt8(target - index - 1)
            }
            // BPF_JA keeps its offset in the operand.
            if instruction.code == SeccompFilter.jump {
                return .init(code: instruction.code, jumpIfTrue: 0, jumpIfFalse: 0, operand: UInt32(offset(instruction.whenTrue)))
            }
            return .init(code: instruction.code, jumpIfTrue: offset(instruction.whenTrue), jumpIfFalse: offset(instruction.whenFalse), operand: instruction.operand)
        }
    }
}
