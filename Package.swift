// swift-tools-version: 6.0
// Ferry: live migration of Linux system containers with their mount state.
import PackageDescription

let package = Package(
    name: "Ferry",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "ferry", targets: ["ferry"])
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-system", from: "1.8.1"),
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
    ],
    targets: [
        // Only what Glibc's module map lacks; every symbol is prefixed `fy_`.
        .target(name: "CLinux"),
        // libfuse3's entry points that fuse.h hides behind macros (Debian's libfuse3-dev).
        .target(name: "CFuse", linkerSettings: [.linkedLibrary("fuse3")]),
        // SHA-256 and HMAC-SHA256 from libcrypto (Debian's libssl-dev): the image stream's
        // authentication and in-process checksums of small images.
        .target(name: "CDigest", linkerSettings: [.linkedLibrary("crypto")]),
        // The one error type every Ferry library throws.
        .target(
            name: "FerryErrors",
            dependencies: [.product(name: "SystemPackage", package: "swift-system")]
        ),
        // Typed syscall wrappers, namespaces, the mount API, processes, kernel probes.
        .target(
            name: "FerrySystem",
            dependencies: [
                "CLinux", "CDigest", "FerryErrors",
                .product(name: "SystemPackage", package: "swift-system"),
            ]
        ),
        // Pure values: mountinfo parsing and mount trees. No root needed to test.
        .target(name: "FerryMounts", dependencies: ["FerryErrors"]),
        // The CRIU engine: locating it, probing it, driving it over RPC (`criu swrk`).
        // Generated/ holds the committed output of scripts/generate-protos.
        .target(
            name: "FerryCRIU",
            dependencies: [
                "FerryErrors", "FerrySystem",
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ]
        ),
        // Checkpoint and restore of a container with its whole mount tree.
        .target(
            name: "FerryCheckpoint",
            dependencies: [
                "FerryErrors", "FerrySystem", "FerryMounts", "FerryCRIU", "FerryContainers",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Container config, the state root, storage and lifecycle.
        .target(
            name: "FerryContainers",
            dependencies: [
                "FerryErrors", "FerrySystem", "FerryMounts",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The placeholder FUSE filesystem that stands in for a share whose server is away.
        .target(
            name: "FerryPlaceholder",
            dependencies: ["CFuse", "CLinux", "FerryErrors", "FerrySystem", "FerryContainers"]
        ),
        // Migration between hosts: the agent protocol over ssh, steps and their undo journal.
        .target(
            name: "FerryMigration",
            dependencies: [
                "FerryErrors", "FerrySystem", "FerryCRIU", "FerryContainers", "FerryCheckpoint",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // One file per command.
        .target(
            name: "FerryCLI",
            dependencies: [
                "FerryErrors", "FerrySystem", "FerryMounts", "FerryCRIU", "FerryContainers", "FerryCheckpoint", "FerryMigration",
                "FerryPlaceholder",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(name: "ferry", dependencies: ["FerryCLI"]),

        .testTarget(name: "FerryMountsTests", dependencies: ["FerryMounts"]),
        .testTarget(name: "FerrySystemTests", dependencies: ["FerrySystem"]),
        .testTarget(name: "FerryContainersTests", dependencies: ["FerryContainers"]),
        .testTarget(name: "FerryCRIUTests", dependencies: ["FerryCRIU"]),
        .testTarget(name: "FerryCheckpointTests", dependencies: ["FerryCheckpoint", "FerryContainers", "FerryMounts", "FerryCRIU"]),
        .testTarget(name: "FerryMigrationTests", dependencies: ["FerryMigration", "FerryContainers", "FerrySystem", "FerryCRIU", "FerryErrors"]),
        // Privileged scenarios: real namespaces, mounts and CRIU, driven through `ferry`.
        .testTarget(
            name: "FerryIntegrationTests",
            dependencies: ["ferry", "FerrySystem", "FerryMounts", "FerryContainers"]
        ),
    ]
)
