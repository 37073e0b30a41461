import FerryCRIU
import FerryErrors
import FerrySystem
import Glibc

/// A streamed dump's page stream as the source kept it (`CheckpointManifest.pageSpoolName`):
/// CRIU's page server protocol, byte for byte. The pages left the source on the image
/// stream only; when the migration is rolled back, a local CRIU page server reads the
/// spool and writes the pagemap and pages images here, and the restore goes on as from
/// any checkpoint.
public enum PageSpool {
    /// Rebuilds the page images from the spool when the directory has a spool and no page
    /// images yet; does nothing otherwise. The spool goes once the images are written.
    public static func rebuildPagesIfNeeded(directory: String, workDirectory: String, engine: CRIUEngine) throws(FerryError) {
        let spoolPath = "\(directory)/\(CheckpointManifest.pageSpoolName)"
        guard access(spoolPath, F_OK) == 0 else { return }
        guard !(try directoryEntries(directory)).contains(where: CheckpointManifest.isPageImage) else {
            unlink(spoolPath)
            return
        }
        let spool = try OwnedFileDescriptor.open(spoolPath, O_RDONLY)
        let (feed, criuEnd) = try TCPSocket.streamPair()
        let request = CRIUClient.PageServerRequest(
            imagesDirectory: try OwnedFileDescriptor.open(directory, O_RDONLY | O_DIRECTORY),
            workDirectory: try OwnedFileDescriptor.open(workDirectory, O_RDONLY | O_DIRECTORY),
            logPath: "\(workDirectory)/page-spool.log", socket: criuEnd)
        // servePages closes criuEnd once CRIU holds it: the drain then ends with the server.
        let server = BackgroundTask("ferry page spool") { () throws(FerryError) in try CRIUClient(engine: engine).servePages(request) }
        // The page server answers a few bytes (acknowledgements) that nobody waits for:
        // they are read and dropped so its writes never block.
        let drain = BackgroundTask("ferry page spool drain") { () throws(FerryError) in
            var sink = [UInt8](repeating: 0, count: 4096)
            while case .success(let count) = DescriptorIO.read(feed.rawValue, into: &sink), count > 0 {}
        }
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        var fed = true
        while fed {
            switch DescriptorIO.read(spool.rawValue, into: &buffer) {
            case .success(0): fed = false
            case .success(let count):
                if case .failure = DescriptorIO.writeAll(feed.rawValue, buffer[..<count]) { fed = false }
            case .failure(let errno): throw FerryError.system("read", errno, path: spoolPath)
            }
        }
        // End of input; the page server's final answer is still read (by the drain).
        _ = Glibc.shutdown(feed.rawValue, Int32(SHUT_WR))
        try server.value(within: CRIUClient.defaultWatchdogSeconds, what: "the page server rebuilding \(directory)'s pages")
        _ = drain.wait(within: 5)
        unlink(spoolPath)
    }
}
