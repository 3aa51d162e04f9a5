// Engine errors as the API reports them: what the client did wrong is a 4xx, a full engine a 429.
import MuseEngine
import MuseOpenAI
import Testing
@testable import MuseServer

@Suite struct ErrorMapTests {
    @Test func generationErrorsMapToTheirStatus() {
        let full = APIError.from(GenerationError.cache(.full(neededBlocks: 3, capacityBlocks: 2)))
        #expect(full.status == 429)
        #expect(full.message.contains("KV cache"))
        #expect(APIError.from(GenerationError.contextExceeded(promptTokens: 9000, contextLength: 8192)).status == 400)
        #expect(APIError.from(GenerationError.emptyPrompt).status == 400)
        #expect(APIError.from(CancellationError()).status == 499)
    }
}
