// swift-tools-version:6.0
// The package manifest: a pure core (VolumeCore), thin adapters (VolumeFUSE, VolumeServer), the daemon and the admin CLI.
import PackageDescription

let package = Package(
    name: "volumes",
    platforms: [.macOS(.v13)],
    products: [
        .library(name: "VolumeCore", targets: ["VolumeCore"]),
        .library(name: "VolumeFUSE", targets: ["VolumeFUSE"]),
        .library(name: "VolumeAPI", targets: ["VolumeAPI"]),
        .library(name: "VolumeServer", targets: ["VolumeServer"]),
        .library(name: "VolumeClient", targets: ["VolumeClient"]),
        .executable(name: "volumectl", targets: ["volumectl"]),
        .executable(name: "volumed", targets: ["volumed"]),
    ],
    dependencies: [
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-system", from: "1.8.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
    ],
    targets: [
        .systemLibrary(name: "CFuse3", pkgConfig: "fuse3", providers: [.apt(["libfuse3-dev"])]),
        .target(name: "CSupport", linkerSettings: [.linkedLibrary("z")]),
        .target(
            name: "VolumeCore",
            dependencies: [
                "CSupport",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "SystemPackage", package: "swift-system"),
            ]
        ),
        .target(
            name: "VolumeFUSE",
            dependencies: ["CFuse3", "VolumeCore", .product(name: "Logging", package: "swift-log")]
        ),
        .executableTarget(
            name: "volumectl",
            dependencies: [
                "VolumeCore", "VolumeFUSE", "VolumeClient", "VolumeAPI", "CSupport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
        .target(name: "VolumeAPI"),
        .target(
            name: "VolumeClient",
            dependencies: [
                "VolumeAPI",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        // The reference sandbox runtime (bubblewrap): no core, no HTTP; VolumeServer drives it.
        .target(name: "SandboxRuntime"),
        .target(
            name: "VolumeServer",
            dependencies: [
                // VolumeFUSE for its mount table (MountSupervisor reads and unmounts through MountTable);
                // CSupport for placing mounts inside a sandbox's mount namespace.
                "VolumeCore", "VolumeAPI", "VolumeFUSE", "CSupport", "SandboxRuntime",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            plugins: ["OpenAPIEmbed"]
        ),
        // Embeds Docs/openapi.yaml into VolumeServer (GET /openapi.yaml serves it).
        .plugin(name: "OpenAPIEmbed", capability: .buildTool()),
        .executableTarget(
            name: "volumed",
            dependencies: [
                "VolumeServer", "VolumeCore", "SandboxRuntime", "CSupport",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(name: "VolumeTestSupport", dependencies: ["VolumeCore"]),
        .executableTarget(
            name: "volumebench",
            // Hummingbird for hello-server, the bare HTTP server whose rate tools/bench-http.sh reports as the floor.
            dependencies: ["VolumeCore", .product(name: "ArgumentParser", package: "swift-argument-parser"),
                           .product(name: "Hummingbird", package: "hummingbird")]
        ),
        .executableTarget(
            name: "volume-torture",
            dependencies: ["VolumeCore", "VolumeTestSupport", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        .testTarget(name: "VolumeCoreTests", dependencies: ["VolumeCore", "VolumeTestSupport"]),
        .testTarget(name: "VolumeFUSETests", dependencies: ["VolumeFUSE", "VolumeCore", "VolumeTestSupport"]),
        .testTarget(name: "VolumectlTests", dependencies: ["VolumeCore", "VolumeTestSupport"]),
        .testTarget(
            name: "VolumeServerTests",
            dependencies: [
                "VolumeAPI", "VolumeClient", "VolumeTestSupport",
                // The mount-table readers (MountTable, MountInfo) are tested directly; the rest goes through the daemon.
                "VolumeCore", "VolumeFUSE", "VolumeServer",
                .product(name: "Crypto", package: "swift-crypto"), .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
