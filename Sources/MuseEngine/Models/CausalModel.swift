// The seam between an architecture's forward pass and everything that drives it (generation,
// scheduling): tokens in, next-token logits out, keys and values kept in a KVCache.

/// A decoder-only transformer. One owner at a time drives it: its scratch memory is reused by
/// every call.
protocol CausalModel: AnyObject {
    var vocabularySize: Int { get }
    /// The longest sequence the model was trained for.
    var contextLength: Int { get }
    /// A cache shaped for this model holding up to `capacityTokens` positions.
    func makeCache(capacityTokens: Int) -> KVCache
    /// Runs `tokens` at the positions after `sequence.count`, appends their keys and values to
    /// the cache, and writes the logits of the last token to `logits` (vocabularySize floats).
    func forward(_ tokens: [Int32], sequence: inout KVSequence, cache: KVCache,
                 logits: UnsafeMutablePointer<Float>) throws(KVCacheError)
}

/// Builds the model a GGUF file describes, by its `general.architecture`.
func loadCausalModel(_ file: GGUFFile, pool: WorkerPool) throws(ModelLoadError) -> any CausalModel {
    let architecture = file.architecture ?? ""
    switch architecture {
    case "llama":
        return try LlamaModel(file: file, pool: pool)
    case "":
        throw .missingMetadata("general.architecture")
    default:
        throw .unsupportedArchitecture(architecture)
    }
}
