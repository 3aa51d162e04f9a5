// The text of PDF files for the document index, through poppler's pdftotext.
import Foundation

/// PDF text through poppler's `pdftotext`, stopped if it runs too long on a malformed file.
enum PDFText {
    static let timeout: TimeInterval = 60

    static func extract(_ pdf: URL, tool: URL) -> Result<String, SkippedFile.Reason> {
        let process = Process()
        process.executableURL = tool
        process.arguments = ["-q", "-enc", "UTF-8", pdf.path, "-"]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        do { try process.run() } catch { return .failure(.unreadable("pdftotext: \(error.localizedDescription)")) }
        // SIGKILL, as SIGTERM may be blocked in a child started from a Swift process on Linux.
        let pid = process.processIdentifier
        let watchdog = DispatchWorkItem { kill(pid, SIGKILL) }
        DispatchQueue.global().asyncAfter(deadline: .now() + timeout, execute: watchdog)
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        watchdog.cancel()
        guard process.terminationReason == .exit, process.terminationStatus == 0 else {
            return .failure(.unreadable("pdftotext failed"))
        }
        guard let text = DocumentIndex.decodeText(data) else { return .failure(.binary) }
        return .success(text)
    }
}
