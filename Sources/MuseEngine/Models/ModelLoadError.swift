// What can go wrong between a GGUF file and a runnable model, in words a user can act on.

public enum ModelLoadError: Error, Sendable, Equatable, CustomStringConvertible {
    case file(GGUFError)
    case unsupportedArchitecture(String)
    case missingMetadata(String)
    case invalidMetadata(key: String, reason: String)
    case missingTensor(String)
    case unsupportedTensorType(tensor: String, type: String)
    case badTensorShape(tensor: String, expected: String, found: [Int])
    case tokenizer(String)
    case chatTemplate(String)

    public var description: String {
        switch self {
        case .file(let error): "cannot read the model file: \(error)"
        case .unsupportedArchitecture(let arch): "model architecture '\(arch)' is not supported yet (supported: \(supportedArchitectures.joined(separator: ", ")))"
        case .missingMetadata(let key): "the model file lacks the metadata key '\(key)'"
        case let .invalidMetadata(key, reason): "the model's metadata '\(key)' is invalid: \(reason)"
        case .missingTensor(let name): "the model file lacks the tensor '\(name)'"
        case let .unsupportedTensorType(tensor, type): "tensor '\(tensor)' has type \(type), which the engine cannot multiply yet"
        case let .badTensorShape(tensor, expected, found): "tensor '\(tensor)' has shape \(found); expected \(expected)"
        case .tokenizer(let message): "cannot build the tokenizer: \(message)"
        case .chatTemplate(let message): "cannot parse the model's chat template: \(message)"
        }
    }
}

/// Typed reads of GGUF metadata with the errors above.
struct MetadataReader {
    let file: GGUFFile

    func int(_ key: String) throws(ModelLoadError) -> Int {
        guard let value = file.metadata[key] else { throw .missingMetadata(key) }
        guard let int = value.int else { throw .invalidMetadata(key: key, reason: "expected an integer") }
        return int
    }

    func int(_ key: String, default fallback: Int) throws(ModelLoadError) -> Int {
        file.metadata[key] == nil ? fallback : try int(key)
    }

    func positiveInt(_ key: String, max: Int = 1 << 24) throws(ModelLoadError) -> Int {
        let value = try int(key)
        guard value > 0, value <= max else { throw .invalidMetadata(key: key, reason: "\(value) is out of range 1...\(max)") }
        return value
    }

    func float(_ key: String, default fallback: Float? = nil) throws(ModelLoadError) -> Float {
        guard let value = file.metadata[key] else {
            if let fallback { return fallback }
            throw .missingMetadata(key)
        }
        guard let double = value.double, double.isFinite else { throw .invalidMetadata(key: key, reason: "expected a finite number") }
        return Float(double)
    }

    /// The tensor `name` as a (rows, cols) weight matrix, checked against the expected shape.
    func matrix(_ name: String, rows: Int, cols: Int) throws(ModelLoadError) -> WeightMatrix {
        guard let info = file.tensor(named: name) else { throw .missingTensor(name) }
        guard info.shape == [cols, rows] else { throw .badTensorShape(tensor: name, expected: "[\(cols), \(rows)]", found: info.shape) }
        return try WeightMatrix(name: name, type: info.type, rows: rows, cols: cols, data: file.data(for: info))
    }

    /// An f32 vector tensor such as a norm's weights.
    func vector(_ name: String, count: Int) throws(ModelLoadError) -> UnsafePointer<Float> {
        guard let info = file.tensor(named: name) else { throw .missingTensor(name) }
        guard info.shape == [count] else { throw .badTensorShape(tensor: name, expected: "[\(count)]", found: info.shape) }
        guard info.type == .f32 else { throw .unsupportedTensorType(tensor: name, type: info.type.name) }
        return file.data(for: info).assumingMemoryBound(to: Float.self)
    }
}
