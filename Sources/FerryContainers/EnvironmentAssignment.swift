import FerryErrors

/// One `NAME=VALUE` of a command's environment, as `ferry exec --env` takes it.
///
/// A bare `NAME` is refused rather than read from ferry's own environment (podman's
/// reading): the admin's shell is not the container's, and a value taken silently from it
/// is a surprise that only shows inside.
public enum EnvironmentAssignment {
    public static func validated(_ text: String) throws(FerryError) -> String {
        guard let equals = text.firstIndex(of: "=") else {
            throw FerryError(.invalidArgument, "--env \(text) has no value; write --env \(text)=VALUE")
        }
        guard equals != text.startIndex else {
            throw FerryError(.invalidArgument, "--env \(text) has no name; write --env NAME\(text)")
        }
        return text
    }
}
