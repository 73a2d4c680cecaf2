// A multipart/form-data body split into its parts: each part's form name and bytes (for the batch write).
import Foundation

/// One part of a multipart body.
struct MultipartPart: Equatable {
    /// The `name` of its `Content-Disposition: form-data`.
    var name: String
    var data: Data
}

enum Multipart {
    /// The boundary of a `multipart/form-data; boundary=...` content type, or nil.
    static func boundary(contentType: String?) -> String? {
        guard let ct = contentType else { return nil }
        let parts = ct.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
        guard parts.first?.lowercased() == "multipart/form-data" else { return nil }
        for p in parts.dropFirst() where p.lowercased().hasPrefix("boundary=") {
            var b = String(p.dropFirst("boundary=".count))
            if b.hasPrefix("\""), b.hasSuffix("\""), b.count >= 2 { b = String(b.dropFirst().dropLast()) }
            return b.isEmpty || b.utf8.count > 70 ? nil : b
        }
        return nil
    }

    /// Splits `body` into its parts; a malformed body (no closing boundary, a part without a form name,
    /// headers without their blank line) is a 400.
    static func parse(_ body: Data, boundary: String) throws -> [MultipartPart] {
        let bad = { (why: String) in APIFailure.badRequest("the multipart body is malformed: \(why)") }
        let delimiter = Data("--\(boundary)".utf8)
        let crlf = Data("\r\n".utf8)
        guard var cursor = body.range(of: delimiter)?.upperBound else { throw bad("no boundary '\(boundary)'") }
        var parts: [MultipartPart] = []
        while true {
            // After a delimiter: "--" ends the body; otherwise CRLF, then the part's headers.
            if body[cursor...].starts(with: Data("--".utf8)) { return parts }
            guard body[cursor...].starts(with: crlf) else { throw bad("a boundary is not followed by a line break") }
            cursor += 2
            guard let headerEnd = body.range(of: Data("\r\n\r\n".utf8), in: cursor..<body.endIndex) else {
                throw bad("a part's headers do not end")
            }
            let headers = String(decoding: body[cursor..<headerEnd.lowerBound], as: UTF8.self)
            let contentStart = headerEnd.upperBound
            guard let next = body.range(of: crlf + delimiter, in: contentStart..<body.endIndex) else {
                throw bad("no closing boundary")
            }
            guard let name = formName(headers) else { throw bad("a part has no Content-Disposition: form-data; name=\"PATH\"") }
            parts.append(MultipartPart(name: name, data: body[contentStart..<next.lowerBound]))
            cursor = next.upperBound
        }
    }

    /// The `name="..."` (not `filename="..."`) of a `Content-Disposition: form-data` header.
    static func formName(_ headers: String) -> String? {
        for line in headers.split(separator: "\r\n") where line.lowercased().hasPrefix("content-disposition:") {
            for param in line.split(separator: ";").dropFirst() {
                let p = param.trimmingCharacters(in: .whitespaces)
                guard p.lowercased().hasPrefix("name=\""), p.hasSuffix("\""), p.count >= 7 else { continue }
                return String(p.dropFirst(6).dropLast())
            }
        }
        return nil
    }
}
