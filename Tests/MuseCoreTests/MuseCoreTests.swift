// The shared vocabulary's small behaviours.
import MuseCore
import Testing

@Suite struct MuseCoreTests {
    @Test func messageTextJoinsTextPartsOnly() {
        let m = ChatMessage(role: .user, content: [.text("a "), .image(ImageSource(url: "data:x")), .text("b")])
        #expect(m.text == "a b")
        #expect(m.hasImages)
        #expect(!ChatMessage.user("hi").hasImages)
    }

    @Test func greedyMeansTemperatureZeroOrTopKOne() {
        #expect(SamplingParameters.greedy.isGreedy)
        #expect(SamplingParameters(temperature: 0).isGreedy)
        #expect(SamplingParameters(temperature: 1, topK: 1).isGreedy)
        #expect(!SamplingParameters(temperature: 0.7, topK: 40).isGreedy)
    }

    @Test func timingsCountDecodeStepsAfterTheFirstToken() {
        let t = Timings(promptSeconds: 0.5, generationSeconds: 2, promptTokens: 100, generatedTokens: 11)
        #expect(t.promptTokensPerSecond == 200)
        #expect(t.generationTokensPerSecond == 5)
        #expect(Usage(promptTokens: 3, completionTokens: 4).totalTokens == 7)
    }
}
