// swift-tools-version: 6.0
// Muse: a self-hosted reasoning assistant with its own CPU inference engine.
import PackageDescription

// Kernels are always compiled with optimisation: a debug build of the engine would otherwise be
// too slow to run a model at all. Per-ISA code is selected at run time with target attributes.
let kernelFlags: [CSetting] = [.unsafeFlags(["-O3", "-fno-math-errno"])]

let package = Package(
    name: "Muse",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "muse", targets: ["muse"]),
        .library(name: "MuseEngine", targets: ["MuseEngine"]),
        .library(name: "MuseCore", targets: ["MuseCore"]),
        .library(name: "MuseAgents", targets: ["MuseAgents"]),
        .library(name: "MuseTools", targets: ["MuseTools"]),
        .library(name: "MuseOpenAI", targets: ["MuseOpenAI"]),
        .library(name: "MuseServer", targets: ["MuseServer"]),
        .library(name: "MuseRemote", targets: ["MuseRemote"]),
        .library(name: "MuseChannels", targets: ["MuseChannels"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/weichsel/ZIPFoundation", from: "0.9.20"),
        .package(url: "https://github.com/attaswift/BigInt", from: "6.0.1"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/modelcontextprotocol/swift-sdk", from: "0.12.1"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-crypto", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
    ],
    targets: [
        .target(name: "CMuseKernels", cSettings: kernelFlags),
        .target(name: "MuseCore"),
        .target(name: "MuseEngine", dependencies: [
            "MuseCore", "CMuseKernels", "ZIPFoundation", .product(name: "Crypto", package: "swift-crypto"),
        ]),
        .target(name: "MuseAgents", dependencies: ["MuseCore"]),
        // The built-in tools and the MCP client: what a front end offers the assistant, which the
        // assistant itself does not need.
        .target(name: "MuseTools", dependencies: [
            "MuseCore", "MuseAgents",
            .product(name: "BigInt", package: "BigInt"),
            .product(name: "GRDB", package: "GRDB.swift"),
            .product(name: "MCP", package: "swift-sdk"),
        ]),
        .target(name: "MuseOpenAI", dependencies: ["MuseCore"]),
        // The messaging channels (WhatsApp, Messenger, Instagram, Telegram) and what is kept of the
        // people who write through them.
        .target(name: "MuseChannels", dependencies: [
            "MuseCore", "MuseAgents", "MuseTools",
            .product(name: "GRDB", package: "GRDB.swift"),
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "Crypto", package: "swift-crypto"),
        ]),
        .target(name: "MuseServer", dependencies: [
            "MuseCore", "MuseAgents", "MuseOpenAI", "MuseTools", "MuseChannels",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "GRDB", package: "GRDB.swift"),
            .product(name: "Prometheus", package: "swift-prometheus"),
        ], resources: [
            // The web chat's page, compiled into the binary so that `muse serve` needs nothing beside it.
            .embedInCode("Web/index.html"), .embedInCode("Web/style.css"), .embedInCode("Web/app.js"),
        ]),
        .target(name: "MuseRemote", dependencies: [
            "MuseCore", "MuseOpenAI",
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "NIOCore", package: "swift-nio"),
        ]),
        .executableTarget(
            name: "muse",
            dependencies: [
                "MuseCore", "MuseEngine", "MuseAgents", "MuseTools", "MuseServer", "MuseRemote", "MuseChannels",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // A small MCP server the tests run over stdio.
        .executableTarget(
            name: "muse-test-mcp-server",
            dependencies: [.product(name: "MCP", package: "swift-sdk")],
            path: "Tests/MCPTestServer"
        ),
        .testTarget(name: "MuseCoreTests", dependencies: ["MuseCore"]),
        .testTarget(name: "MuseAgentsTests", dependencies: ["MuseAgents", "MuseTools", "MuseCore"]),
        .testTarget(name: "MuseToolsTests", dependencies: [
            "MuseTools", "MuseAgents", "MuseCore", .product(name: "MCP", package: "swift-sdk"),
        ]),
        .testTarget(name: "MuseOpenAITests", dependencies: ["MuseOpenAI", "MuseCore"]),
        .testTarget(name: "MuseChannelsTests", dependencies: [
            "MuseChannels", "MuseAgents", "MuseTools", "MuseCore", .product(name: "GRDB", package: "GRDB.swift"),
        ]),
        .testTarget(name: "MuseServerTests", dependencies: [
            "MuseServer", "MuseAgents", "MuseCore", "MuseEngine", "MuseOpenAI", "MuseRemote",
            .product(name: "GRDB", package: "GRDB.swift"), .product(name: "HummingbirdTesting", package: "hummingbird"),
        ]),
        .testTarget(name: "MuseRemoteTests", dependencies: ["MuseRemote", "MuseCore", "MuseOpenAI", "MuseAgents"]),
        .testTarget(name: "MuseEngineTests", dependencies: [
            "MuseEngine", "MuseCore", "CMuseKernels", "MuseAgents", "MuseTools", .product(name: "Crypto", package: "swift-crypto"),
        ], exclude: ["Fixtures"]),
    ],
    swiftLanguageModes: [.v6]
)
