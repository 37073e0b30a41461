/// What `ferry recover` does with an unfinished migration, decided from the journal and from
/// what the target says it holds (never from the journal alone: a commit may or may not
/// have reached the target).
enum Recovery: Equatable {
    /// The target runs the container, or holds a live copy waiting for the commit the
    /// journal promised: commit (again) and let the source go.
    case finish
    /// The target holds no copy that can run (nothing, a staging, a fenced copy), or the
    /// source never committed: undo, bringing the container back on the source.
    case rollBack

    init(committed: Bool, held: AgentResponse.Held) {
        switch (committed, held) {
        case (true, .pending), (true, .owned): self = .finish
        case (false, _), (true, .nothing), (true, .staged), (true, .fenced): self = .rollBack
        }
    }
}
