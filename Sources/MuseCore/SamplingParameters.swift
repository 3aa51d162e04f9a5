// How the next token is chosen: the knobs every front end exposes.

public struct SamplingParameters: Sendable, Equatable {
    /// 0 or less means greedy: always the most likely token.
    public var temperature: Float
    /// Keep the k most likely tokens; 0 disables.
    public var topK: Int
    /// Keep the smallest set of tokens whose probability reaches p; 1 disables.
    public var topP: Float
    /// Drop tokens less likely than minP times the most likely one; 0 disables.
    public var minP: Float
    /// Divides positive logits (multiplies negative ones) of tokens seen in the last `penaltyWindow`.
    public var repetitionPenalty: Float
    /// Subtracted once from the logit of every token seen in the window.
    public var presencePenalty: Float
    /// Subtracted per occurrence in the window.
    public var frequencyPenalty: Float
    public var penaltyWindow: Int
    /// Same seed, same output. nil picks one at random.
    public var seed: UInt64?

    public init(temperature: Float = 0.7, topK: Int = 40, topP: Float = 0.95, minP: Float = 0.05,
                repetitionPenalty: Float = 1.0, presencePenalty: Float = 0, frequencyPenalty: Float = 0,
                penaltyWindow: Int = 64, seed: UInt64? = nil) {
        self.temperature = temperature
        self.topK = topK
        self.topP = topP
        self.minP = minP
        self.repetitionPenalty = repetitionPenalty
        self.presencePenalty = presencePenalty
        self.frequencyPenalty = frequencyPenalty
        self.penaltyWindow = penaltyWindow
        self.seed = seed
    }

    /// Always the most likely token.
    public static let greedy = SamplingParameters(temperature: 0, topK: 1, topP: 1, minP: 0)

    public var isGreedy: Bool { temperature <= 0 || topK == 1 }
}
