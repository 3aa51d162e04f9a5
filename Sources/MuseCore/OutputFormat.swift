// What shape generated text must have. The local engine enforces it while decoding (only tokens
// that keep the output valid can be chosen), so the result parses by construction; a remote
// engine passes it on as the protocol's `response_format`.

public indirect enum OutputFormat: Sendable, Equatable {
    /// Any JSON object.
    case jsonObject
    /// An instance of the JSON Schema given as JSON text (object, properties, required, enum,
    /// const, string, number, integer, boolean, null, array with items, anyOf/oneOf, local $ref).
    case jsonSchema(String)
    /// Exactly this text.
    case literal(String)
    /// The formats one after another.
    case sequence([OutputFormat])
    /// The format between 1 and `max` times, with `separator` between repetitions.
    case repeated(OutputFormat, separator: String, max: Int)
    /// The format with every JSON string that has no `maxLength` of its own limited to
    /// `maxStringLength` characters, so that the whole output is bounded (tool-call arguments: a
    /// small model that forgets to close a string cannot write until it runs out of tokens).
    case bounded(OutputFormat, maxStringLength: Int)
    /// One line of free text: 1 to `maxLength` characters without a line break (after at most one
    /// leading line break), ended by the end of generation or by a line break. What follows an
    /// "Answer:" that a reply was continued from.
    case line(maxLength: Int)
}
