// swift-tools-version:6.0
import PackageDescription

// One executable per server, plus the supervisor (newsd), the control tool (newsctl) and the
// benchmark driver (newsbench). Only CNewsLinux is C; only NewsSystem imports Glibc directly
// for system calls (the executables use it for process-level things such as exit()).
let serverDeps: [Target.Dependency] = ["NewsServer"]

let package = Package(
    name: "NEWS",
    products: [
        .executable(name: "newsd", targets: ["Kernel"]),
        .executable(name: "newsctl", targets: ["newsctl"]),
        .executable(name: "newsbench", targets: ["newsbench"]),
        .executable(name: "nicdriver", targets: ["NICDriver"]),
        .executable(name: "packetfilter", targets: ["PacketFilter"]),
        .executable(name: "ipserver", targets: ["IPServer"]),
        .executable(name: "udpserver", targets: ["UDPServer"]),
        .executable(name: "tcpserver", targets: ["TCPServer"]),
        .executable(name: "vfs", targets: ["VFS"]),
        .library(name: "libnews", targets: ["libnews"]),
        // The same library as a shared object for C programs (include/news.h).
        .library(name: "news", type: .dynamic, targets: ["libnews"]),
        .executable(name: "newsecho", targets: ["newsecho"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
    ],
    targets: [
        .target(name: "CNewsLinux"),
        .systemLibrary(name: "CSeccomp", pkgConfig: "libseccomp", providers: [.apt(["libseccomp-dev"])]),
        .systemLibrary(name: "CNuma", providers: [.apt(["libnuma-dev"])]),
        .target(name: "NewsSystem", dependencies: [
            "CNewsLinux", "CSeccomp", "CNuma", .product(name: "Logging", package: "swift-log"),
        ]),
        .target(name: "NewsIPC", dependencies: ["NewsSystem", "CNewsLinux"]),
        .target(name: "NewsConfig", dependencies: ["NewsWire"]),
        .target(name: "NewsWire"),
        .target(name: "NewsIPCore", dependencies: ["NewsWire"]),
        .target(name: "NewsFilter", dependencies: ["NewsWire"]),
        .target(name: "NewsUDP", dependencies: ["NewsIPCore"]),
        // The TCP protocol core: pure (segments and time in, segments and events out).
        .target(name: "NewsTCP", dependencies: ["NewsWire"]),
        // What tcpserver keeps besides the protocol: its connection table, control blocks.
        .target(name: "NewsTCPState", dependencies: ["NewsTCP", "NewsIPCore"]),
        .target(name: "NewsControl", dependencies: ["NewsIPC", "NewsConfig"]),
        .target(name: "NewsServer", dependencies: [
            "NewsConfig", "NewsWire",
            "NewsIPC", "NewsSystem", .product(name: "Logging", package: "swift-log"),
        ]),
        .target(name: "libnews", dependencies: ["NewsControl", "NewsConfig", "NewsSystem", "NewsIPC", "CNewsLinux"]),

        .executableTarget(name: "Kernel", dependencies: [
            "NewsIPC", "NewsConfig", "NewsControl", "NewsSystem", "libnews", "NewsFilter", "NewsTCPState", "NewsWire",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .executableTarget(name: "newsctl", dependencies: [
            "libnews", "NewsControl", "NewsFilter",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .executableTarget(name: "newsbench", dependencies: [
            "NewsIPC", "NewsSystem", "CNewsLinux", "libnews", "NewsWire",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .executableTarget(name: "newsecho", dependencies: ["libnews", "NewsSystem", "NewsWire"]),
        .executableTarget(name: "NICDriver", dependencies: serverDeps),
        .executableTarget(name: "PacketFilter", dependencies: serverDeps + [
            "NewsWire", "NewsFilter", .product(name: "Logging", package: "swift-log"),
        ]),
        .executableTarget(name: "IPServer", dependencies: serverDeps + [
            "NewsWire", "NewsIPCore", .product(name: "Logging", package: "swift-log"),
        ]),
        .executableTarget(name: "UDPServer", dependencies: serverDeps + [
            "NewsWire", "NewsUDP", .product(name: "Logging", package: "swift-log"),
        ]),
        .executableTarget(name: "TCPServer", dependencies: serverDeps + [
            "NewsWire", "NewsTCP", "NewsTCPState", "NewsIPCore", .product(name: "Logging", package: "swift-log"),
        ]),
        .executableTarget(name: "VFS", dependencies: serverDeps),

        .testTarget(name: "NewsIPCTests", dependencies: ["NewsIPC", "NewsSystem", "CNewsLinux"]),
        .testTarget(name: "NewsConfigTests", dependencies: ["NewsConfig", "NewsWire"]),
        .testTarget(name: "NewsWireTests", dependencies: ["NewsWire"]),
        .testTarget(name: "NewsIPCoreTests", dependencies: ["NewsIPCore", "NewsWire"]),
        .testTarget(name: "NewsFilterTests", dependencies: ["NewsFilter", "NewsWire"]),
        .testTarget(name: "NewsUDPTests", dependencies: ["NewsUDP", "NewsIPCore"]),
        .testTarget(name: "NewsTCPTests", dependencies: ["NewsTCP", "NewsWire"]),
        .testTarget(name: "TCPServerTests", dependencies: ["TCPServer", "Kernel"]),
        .testTarget(name: "NewsTCPStateTests", dependencies: ["NewsTCPState", "NewsTCP", "NewsIPCore"]),
        .testTarget(name: "NICDriverTests", dependencies: ["NICDriver"]),
        .testTarget(name: "NewsBenchTests", dependencies: ["newsbench"]),
        .testTarget(name: "AddressAgreementTests", dependencies: ["Kernel", "IPServer", "UDPServer", "NewsConfig", "NewsWire"]),
        .testTarget(name: "KernelTests", dependencies: ["Kernel", "NewsControl", "NewsServer", "NewsConfig", "NewsIPC", "NewsSystem"]),
        // libnews against newsd's real broker, with the test playing tcpserver.
        // The pure statistics of newsbench's benchmarks.
        .testTarget(name: "newsbenchTests", dependencies: ["newsbench"]),
        .testTarget(name: "libnewsTests", dependencies: ["libnews", "Kernel", "NewsConfig", "NewsIPC", "NewsSystem", "CNewsLinux"]),
    ]
)
