import FerryContainers
import FerrySystem
import Glibc
import Testing

/// The hardened profile's seccomp program, run by a small classic-BPF interpreter (the
/// kernel's semantics for the few opcodes the program uses): every denied call from every
/// x86 ABI gets EPERM — an argument-matched one only with that argument — and everything
/// else is allowed.
@Suite struct SyscallFilterTests {
    enum Verdict: Equatable { case allow, error(Int32), other(UInt32) }

    /// What the kernel would answer to call `number` through ABI `architecture` with
    /// `arguments` (index: low 32 bits; the rest 0).
    static func run(_ filter: SeccompFilter, number: UInt32, architecture: UInt32, arguments: [UInt32: UInt32] = [:]) -> Verdict {
        func word(at offset: UInt32) -> UInt32 {
            switch offset {
            case SeccompFilter.numberOffset: return number
            case SeccompFilter.architectureOffset: return architecture
            default:
                guard offset >= 16, (offset - 16) % 8 == 0 else { return 0 }
                return arguments[(offset - 16) / 8] ?? 0
            }
        }
        var accumulator: UInt32 = 0
        var pc = 0
        while pc < filter.instructions.count {
            let instruction = filter.instructions[pc]
            switch instruction.code {
            case SeccompFilter.loadWord: accumulator = word(at: instruction.operand)
            case SeccompFilter.andConstant: accumulator &= instruction.operand
            case SeccompFilter.jump: pc += Int(instruction.operand)
            case SeccompFilter.jumpIfEqual:
                pc += Int(accumulator == instruction.operand ? instruction.jumpIfTrue : instruction.jumpIfFalse)
            case SeccompFilter.returnConstant:
                let value = instruction.operand
                if value == SeccompFilter.allow { return .allow }
                if value & 0xFFFF_0000 == SeccompFilter.errorReturn { return .error(Int32(value & 0xFFFF)) }
                return .other(value)
            default:
                Issue.record("unexpected opcode \(instruction.code) at \(pc)")
                return .other(0)
            }
            pc += 1
        }
        Issue.record("the program ran off its end")
        return .other(0)
    }

    let filter = SecurityProfile.syscallFilter
    let x86_64 = SeccompFilter.x86_64Architecture
    let i386 = SeccompFilter.i386Architecture
    let rules = SecurityProfile.deniedSyscalls.map(\.rule)

    /// The argument values a rule matches, and one it does not.
    static func matching(_ argument: SeccompFilter.Argument?) -> (match: [UInt32: UInt32], miss: [UInt32: UInt32])? {
        guard let argument else { return nil }
        // Bits outside the mask do not matter; a value with a masked bit flipped misses.
        let flip = argument.mask & ~(argument.mask - 1)
        return ([argument.index: argument.value | ~argument.mask], [argument.index: argument.value ^ flip])
    }

    @Test func everyDeniedCallFailsWithItsErrnoFromEveryABI() {
        for denied in SecurityProfile.deniedSyscalls {
            let arguments = Self.matching(denied.rule.argument)?.match ?? [:]
            let call = denied.rule.call
            let answer = Verdict.error(denied.rule.errno ?? EPERM)
            #expect(Self.run(filter, number: call.x86_64, architecture: x86_64, arguments: arguments) == answer, "\(denied.name), 64-bit")
            #expect(Self.run(filter, number: call.x86_64 | SeccompFilter.x32Bit, architecture: x86_64, arguments: arguments) == answer, "\(denied.name), x32")
            if let number = call.i386 {
                #expect(Self.run(filter, number: number, architecture: i386, arguments: arguments) == answer, "\(denied.name), 32-bit")
            }
        }
        #expect(Self.run(filter, number: 435, architecture: x86_64) == .error(ENOSYS), "clone3: the C library falls back to clone")
    }

    /// In its own user namespace a container may make network namespaces: they are its own.
    @Test func aUserNamespaceContainerKeepsItsNamespaceCalls() {
        let own = SecurityProfile.userNamespaceSyscallFilter
        #expect(Self.run(own, number: 272, architecture: x86_64, arguments: [0: 0x4000_0000]) == .allow, "unshare(CLONE_NEWNET)")
        #expect(Self.run(own, number: 56, architecture: x86_64, arguments: [0: 0x4000_0000 | 17]) == .allow, "clone(CLONE_NEWNET)")
        #expect(Self.run(own, number: 435, architecture: x86_64) == .allow, "clone3")
        #expect(Self.run(own, number: 321, architecture: x86_64) == .error(EPERM), "bpf")
        #expect(Self.run(filter, number: 272, architecture: x86_64, arguments: [0: 0x4000_0000 | 0x20000]) == .error(EPERM), "unshare(CLONE_NEWNET|CLONE_NEWNS)")
        #expect(Self.run(filter, number: 272, architecture: x86_64, arguments: [0: 0x20000]) == .allow, "unshare(CLONE_NEWNS)")
        #expect(Self.run(filter, number: 56, architecture: x86_64, arguments: [0: 0x0111_0011]) == .allow, "fork's clone")
    }

    @Test func anArgumentMatchedCallIsAllowedWithOtherArguments() {
        for denied in SecurityProfile.deniedSyscalls {
            guard let miss = Self.matching(denied.rule.argument)?.miss else { continue }
            // Another rule for the same call may match this value: only a value no rule of
            // the call matches must pass.
            let matchedByAnother = rules.contains { rule in
                guard rule.call == denied.rule.call, let argument = rule.argument, let value = miss[argument.index] else { return false }
                return value & argument.mask == argument.value
            }
            if matchedByAnother { continue }
            #expect(Self.run(filter, number: denied.rule.call.x86_64, architecture: x86_64, arguments: miss) == .allow, "\(denied.name), other argument")
        }
        // The cases the rules are for, by name: a bind remount and an ordinary ioctl pass.
        let mount = SeccompFilter.Call(x86_64: 165, i386: 21)
        #expect(Self.run(filter, number: mount.x86_64, architecture: x86_64, arguments: [3: 0x20 | 0x1000 | 0x1]) == .allow, "a bind remount read-only")
        #expect(Self.run(filter, number: mount.x86_64, architecture: x86_64, arguments: [3: 0x20 | 0x1]) == .error(EPERM), "a superblock remount")
        #expect(Self.run(filter, number: 21, architecture: i386, arguments: [3: 0x20]) == .error(EPERM), "a 32-bit superblock remount")
        #expect(Self.run(filter, number: mount.x86_64, architecture: x86_64, arguments: [3: 0]) == .allow, "a new mount")
        #expect(Self.run(filter, number: 16, architecture: x86_64, arguments: [1: 0x5401]) == .allow, "TCGETS")
    }

    @Test func everythingElseIsAllowed() {
        let wide = Set(rules.map(\.call.x86_64))
        let narrow = Set(rules.compactMap(\.call.i386))
        for number in UInt32(0)..<UInt32(600) {
            if !wide.contains(number) {
                #expect(Self.run(filter, number: number, architecture: x86_64) == .allow, "64-bit \(number)")
            }
            if !narrow.contains(number) {
                #expect(Self.run(filter, number: number, architecture: i386) == .allow, "32-bit \(number)")
            }
        }
        // A 64-bit number is no 32-bit one: bpf is 321 in one ABI and 357 in the other.
        #expect(Self.run(filter, number: 357, architecture: x86_64) == .allow)
        #expect(Self.run(filter, number: 0, architecture: 0xC000_00B7) == .allow, "an ABI this host has not")
    }

    @Test func anEmptyListAllowsEverything() {
        let empty = SeccompFilter(denying: [], errno: EPERM)
        #expect(Self.run(empty, number: 321, architecture: x86_64) == .allow)
        #expect(Self.run(empty, number: 357, architecture: i386) == .allow)
    }
}
