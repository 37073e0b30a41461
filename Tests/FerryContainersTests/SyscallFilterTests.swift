import FerryContainers
import FerrySystem
import Glibc
import Testing

/// The hardened profile's seccomp program, run by a small classic-BPF interpreter (the
/// kernel's semantics for the few opcodes the program uses): every denied call from every
/// x86 ABI gets EPERM, everything else is allowed.
@Suite struct SyscallFilterTests {
    enum Verdict: Equatable { case allow, error(Int32), other(UInt32) }

    static func run(_ filter: SeccompFilter, number: UInt32, architecture: UInt32) -> Verdict {
        var accumulator: UInt32 = 0
        var pc = 0
        while pc < filter.instructions.count {
            let instruction = filter.instructions[pc]
            switch instruction.code {
            case 0x20:  // ld [k]
                accumulator = instruction.operand == 0 ? number : instruction.operand == 4 ? architecture : 0
            case 0x54: accumulator &= instruction.operand  // and #k
            case 0x15:  // jeq #k
                pc += Int(accumulator == instruction.operand ? instruction.jumpIfTrue : instruction.jumpIfFalse)
            case 0x06:  // ret #k
                let value = instruction.operand
                if value == 0x7FFF_0000 { return .allow }
                if value & 0xFFFF_0000 == 0x0005_0000 { return .error(Int32(value & 0xFFFF)) }
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

    @Test func everyDeniedCallFailsWithEPERMFromEveryABI() {
        for denied in SecurityProfile.deniedSyscalls {
            #expect(Self.run(filter, number: denied.call.x86_64, architecture: x86_64) == .error(EPERM), "\(denied.name), 64-bit")
            #expect(Self.run(filter, number: denied.call.x86_64 | SeccompFilter.x32Bit, architecture: x86_64) == .error(EPERM), "\(denied.name), x32")
            if let number = denied.call.i386 {
                #expect(Self.run(filter, number: number, architecture: i386) == .error(EPERM), "\(denied.name), 32-bit")
            }
        }
    }

    @Test func everythingElseIsAllowed() {
        let wide = Set(SecurityProfile.deniedSyscalls.map(\.call.x86_64))
        let narrow = Set(SecurityProfile.deniedSyscalls.compactMap(\.call.i386))
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
