// swift-tools-version:6.0
// Benchmarks live outside the main dependency graph (as in swift-nio). Build and run in release:
//   cd Benchmarks && swift run -c release MuxBench [--bytes N] [--quick]
import PackageDescription

let package = Package(
    name: "Benchmarks",
    platforms: [.macOS(.v14)],
    dependencies: [
        .package(name: "tunnel", path: ".."),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
    ],
    targets: [
        .executableTarget(
            name: "MuxBench",
            dependencies: [
                .product(name: "Mux", package: "tunnel"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                "CMallInfo",
            ]
        ),
        .target(name: "CMallInfo"),
    ],
    swiftLanguageModes: [.v6]
)
