import ArgumentParser
import FerryContainers

/// What the shell completion scripts (`ferry --generate-completion-script bash|zsh|fish`)
/// offer beyond options: container names from the state root, and the values of options
/// that take one of a few words.
extension CompletionKind {
    /// The containers under the state root the command line names (`--root DIR` anywhere
    /// on it, else $FERRY_ROOT, else the default). The shell runs `ferry` to ask, so these
    /// are the names on this host at the moment of the TAB.
    static var containerName: CompletionKind {
        .custom { words, _, _ in
            StateRoot(path: rootOption(in: words)).containerNames().map(\.value)
        }
    }

    static let storageKind: CompletionKind = .list(["shared", "insulated"])

    /// `--root DIR` or `--root=DIR`: the last one given, as ArgumentParser takes it.
    static func rootOption(in words: [String]) -> String? {
        var found: String?
        for (index, word) in words.enumerated() {
            if word == "--root", index + 1 < words.count {
                found = words[index + 1]
            } else if word.hasPrefix("--root=") {
                found = String(word.dropFirst("--root=".count))
            }
        }
        return found.flatMap { $0.isEmpty ? nil : $0 }
    }
}
