// swift-tools-version:6.0
// The package manifest: a pure core (VolumeCore), thin adapters (VolumeFUSE), and the admin CLI.
import PackageDescription

let package = Package(
    name: "volumes",
    platforms: [.macOS(.v13)],
    products: [
        .library(name: "VolumeCore", targets: ["VolumeCore"]),
        .library(name: "VolumeFUSE", targets: ["VolumeFUSE"]),
        .executable(name: "volumectl", targets: ["volumectl"]),
    ],
    dependencies: [
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-system", from: "1.8.1"),
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
                "VolumeCore", "VolumeFUSE",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .target(name: "VolumeTestSupport", dependencies: ["VolumeCore"]),
        .executableTarget(
            name: "volumebench",
            dependencies: ["VolumeCore", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        .executableTarget(
            name: "volume-torture",
            dependencies: ["VolumeCore", "VolumeTestSupport", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        .testTarget(name: "VolumeCoreTests", dependencies: ["VolumeCore", "VolumeTestSupport"]),
        .testTarget(name: "VolumeFUSETests", dependencies: ["VolumeFUSE", "VolumeCore", "VolumeTestSupport"]),
        .testTarget(name: "VolumectlTests", dependencies: ["VolumeCore", "VolumeTestSupport"]),
    ],
    swiftLanguageModes: [.v6]
)
