import FerryContainers
import FerrySystem
import Testing

/// The hardened profile's sysctl program, run by a small eBPF interpreter (the kernel's
/// semantics for the opcodes it uses, with bpf_sysctl_get_name writing the name and its
/// NUL, truncated to the buffer as the kernel does): reads pass, writes pass only under
/// the writable subtrees.
@Suite struct SysctlGuardTests {
    /// 1: allowed, 0: refused (the kernel answers EPERM).
    static func run(_ program: SysctlGuard, name: String, write: Bool) -> Int64? {
        var registers = [Int64](repeating: 0, count: 11)
        var stack = [UInt8](repeating: 0xAA, count: 512)
        let context: Int64 = 1 << 40  // a marker: r1 holds the context
        let frame = Int64(stack.count)  // r10: the top of the stack
        registers[1] = context
        registers[10] = frame
        var pc = 0
        while pc < program.instructions.count {
            let instruction = program.instructions[pc]
            let (d, s) = (Int(instruction.destination), Int(instruction.source))
            switch instruction.code {
            case SysctlGuard.move64Register: registers[d] = registers[s]
            case SysctlGuard.move64Constant: registers[d] = Int64(instruction.immediate)
            case SysctlGuard.add64Constant: registers[d] += Int64(instruction.immediate)
            case SysctlGuard.loadWord:
                guard registers[s] == context, instruction.offset == 0 else { Issue.record("a word load other than ctx->write"); return nil }
                registers[d] = write ? 1 : 0
            case SysctlGuard.loadByte:
                let address = Int(registers[s] + Int64(instruction.offset))
                guard stack.indices.contains(address) else { Issue.record("a byte load outside the stack"); return nil }
                registers[d] = Int64(stack[address])
            case SysctlGuard.jumpIfEqual: if registers[d] == Int64(instruction.immediate) { pc += Int(instruction.offset) }
            case SysctlGuard.jumpIfNotEqual: if registers[d] != Int64(instruction.immediate) { pc += Int(instruction.offset) }
            case SysctlGuard.jumpAlways: pc += Int(instruction.offset)
            case SysctlGuard.call:
                guard instruction.immediate == SysctlGuard.getName, registers[1] == context, registers[4] == 0 else {
                    Issue.record("an unexpected call"); return nil
                }
                let bytes = Array(name.utf8)
                let size = Int(registers[3])
                let start = Int(registers[2])
                let copied = min(bytes.count, size - 1)
                for index in 0..<copied { stack[start + index] = bytes[index] }
                stack[start + copied] = 0
                registers[0] = copied < bytes.count ? -7 : Int64(copied)  // -E2BIG when truncated
            case SysctlGuard.exit: return registers[0]
            default:
                Issue.record("unexpected opcode \(instruction.code) at \(pc)")
                return nil
            }
            pc += 1
        }
        Issue.record("the program ran off its end")
        return nil
    }

    let program = SecurityProfile.sysctlGuard

    @Test func readsPassAndOnlyTheNetworkNamespacesWritesDo() {
        #expect(program.writable.first == "net/")
        for name in ["vm/swappiness", "kernel/hostname", "kernel/core_pattern", "fs/nr_open", "net/ipv4/ip_forward", "user/max_user_namespaces"] {
            #expect(Self.run(program, name: name, write: false) == 1, "reading \(name)")
        }
        for name in ["vm/swappiness", "kernel/core_pattern", "kernel/modprobe", "fs/binfmt_misc/register", "user/max_user_namespaces", "dev/tty/ldisc_autoload", "ne", "netx/y", "n",
                     "kernel/hostnamex", "kernel/semaphore", "kernel/sem/x", "kernel/shm_rmid_forced_and_more_than_32_bytes", "fs/mqueuex"] {
            #expect(Self.run(program, name: name, write: true) == 0, "writing \(name)")
        }
        for name in ["net/ipv4/ip_forward", "net/ipv6/conf/all/forwarding", "net/core/somaxconn", "kernel/hostname", "kernel/shm_rmid_forced",
                     "kernel/sem", "fs/mqueue/msg_max", "kernel/ns_last_pid"] {
            #expect(Self.run(program, name: name, write: true) == 1, "writing \(name)")
        }
    }

    @Test func severalSubtreesEachOpenTheirOwn() {
        let guarded = SysctlGuard(writable: ["net/", "fs/mqueue/"])
        #expect(Self.run(guarded, name: "net/core/somaxconn", write: true) == 1)
        #expect(Self.run(guarded, name: "fs/mqueue/msg_max", write: true) == 1)
        #expect(Self.run(guarded, name: "fs/nr_open", write: true) == 0)
        #expect(Self.run(guarded, name: "vm/swappiness", write: true) == 0)
        let closed = SysctlGuard(writable: [])
        #expect(Self.run(closed, name: "net/core/somaxconn", write: true) == 0)
        #expect(Self.run(closed, name: "net/core/somaxconn", write: false) == 1)
    }
}
