// How hard the assistant thinks: the user's choice, and the settings each choice carries.

public enum Mode: Sendable, Equatable, CustomStringConvertible {
    /// Answer directly.
    case instant
    /// Reason first (up to `budget` tokens), then answer.
    case thinking(budget: Int)
    /// `agents` agents reason in parallel from distinct perspectives, each up to `budget` tokens as
    /// in Thinking, and end with an answer line in a guaranteed format; a result that most agents
    /// share (or that leads among short answers) is decided by vote, the rest distilled, then answered in one
    /// line or refined; `rounds` > 1 feeds the distilled summary back to a new parallel round.
    case contemplating(agents: Int, rounds: Int, budget: Int = Mode.defaultThinkingBudget)

    public static let defaultThinkingBudget = 256
    public static let defaultAgents = 4

    public var name: String {
        switch self {
        case .instant: "instant"
        case .thinking: "thinking"
        case .contemplating: "contemplating"
        }
    }

    public var description: String {
        switch self {
        case .instant: "instant"
        case .thinking(let budget): "thinking (budget \(budget))"
        case let .contemplating(agents, rounds, budget):
            "contemplating (\(agents) agents, \(rounds) round\(rounds == 1 ? "" : "s"), budget \(budget) each)"
        }
    }

    /// A mode from its name (any case), with the defaults for what the name leaves open.
    public init?(name: String, agents: Int? = nil, budget: Int? = nil, rounds: Int? = nil) {
        guard let kind = Kind(rawValue: name.lowercased()) else { return nil }
        self.init(kind, agents: agents, budget: budget, rounds: rounds)
    }

    /// The mode of `kind`, with the defaults for what is not given.
    public init(_ kind: Kind, agents: Int? = nil, budget: Int? = nil, rounds: Int? = nil) {
        switch kind {
        case .instant: self = .instant
        case .thinking: self = .thinking(budget: budget ?? Self.defaultThinkingBudget)
        case .contemplating:
            self = .contemplating(agents: agents ?? Self.defaultAgents, rounds: rounds ?? 1, budget: budget ?? Self.defaultThinkingBudget)
        }
    }

    /// The modes by name, without their settings: what a command line or a request chooses.
    public enum Kind: String, CaseIterable, Sendable {
        case instant, thinking, contemplating
    }
}

/// The point of view an agent takes in Contemplating mode.
public struct Perspective: Sendable, Equatable, Codable {
    public var role: String
    public var instruction: String

    public init(role: String, instruction: String) {
        self.role = role
        self.instruction = instruction
    }

    /// What every agent is asked after its perspective's instruction, so that votes compare the
    /// final answers and not the reasoning around them.
    public static let answerFormat = "End with a last line of the form \"Answer: <the final answer alone>\"."

    /// Four complementary views; the K agents of a run take them in turn.
    public static let defaults: [Perspective] = [
        Perspective(role: "solver", instruction: "Solve the problem directly and give the answer."),
        Perspective(role: "verifier", instruction: "Work through the problem step by step, checking each step, then give the answer."),
        Perspective(role: "alternative", instruction: "Solve the problem by a different method than the obvious one, then give the answer."),
        Perspective(role: "skeptic", instruction: "Look for the mistake a hasty answer would make, avoid it, then give the answer."),
    ]
}
