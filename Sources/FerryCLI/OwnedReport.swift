import FerrySystem

/// The report pipe `ferry start` hands its monitor as descriptor 3.
enum OwnedReport {
    static func take() -> OwnedFileDescriptor { OwnedFileDescriptor(taking: 3) }
}
