// SHA-256 against the standard test vectors, and the store's resolution rules.
import Foundation
import Testing
@testable import MuseEngine

@Suite struct ModelStoreTests {
    @Test(arguments: [
        ("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        ("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        ("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"),
    ])
    func sha256KnownVectors(input: String, digest: String) {
        var hash = SHA256()
        hash.update(Array(input.utf8))
        #expect(SHA256.hex(hash.finalize()) == digest)
    }

    @Test func sha256OfAMillionAsInOddChunks() {
        var hash = SHA256()
        var remaining = 1_000_000
        var chunk = 1
        while remaining > 0 {
            let n = min(chunk, remaining)
            hash.update([UInt8](repeating: UInt8(ascii: "a"), count: n))
            remaining -= n
            chunk = chunk * 3 + 1
        }
        #expect(SHA256.hex(hash.finalize()) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
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
}
