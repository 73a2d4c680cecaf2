// Text operations on a volume's files: edit one occurrence, search by name and content, replace across files.
import Foundation

#if canImport(Glibc)
import Glibc
#endif

extension Volume {
    /// Files larger than this are skipped by content search and replace.
    public static let maxTextFileSize: Int64 = 16 << 20

    /// Replaces `old` by `new` in the file at `path`. Exactly one occurrence must exist unless `all`.
    /// Returns how many occurrences were replaced.
    @discardableResult
    public func edit(_ path: String, old: String, new: String, all: Bool = false, caller: Caller = .root) throws -> Int {
        guard !old.isEmpty else { throw VolumeError.invalidArgument("the text to replace is empty") }
        let text = try readText(path)
        let count = text.components(separatedBy: old).count - 1
        if count == 0 { throw VolumeError.editConflict("the text to replace does not occur in \(path)") }
        if count > 1 && !all {
            throw VolumeError.editConflict("the text to replace occurs \(count) times in \(path); pass --all, or give more context so it occurs once")
        }
        try writeFile(path, data: Data(text.replacingOccurrences(of: old, with: new).utf8), caller: caller)
        return count
    }

    private func readText(_ path: String) throws -> String {
        let data = try readFile(path)
        guard let text = String(data: data, encoding: .utf8) else { throw VolumeError.invalidArgument("\(path) is not UTF-8 text") }
        return text
    }

    /// Whether `glob` selects `path`: a glob without `/` matches the file name, one with `/` the whole
    /// path from the root (`*` crosses `/`, so `src/*.py` and `**/*.py` both work).
    static func globMatches(_ glob: String, _ path: VolumePath) -> Bool {
        if glob.contains("/") {
            let g = glob.hasPrefix("/") ? String(glob.dropFirst()) : glob
            let full = path.components.joined(separator: "/")
            return fnmatch(g, full, 0) == 0 || fnmatch(g.replacingOccurrences(of: "**/", with: ""), full, 0) == 0
        }
        return fnmatch(glob, path.name, 0) == 0
    }

    static func regex(_ pattern: String) throws -> NSRegularExpression {
        do { return try NSRegularExpression(pattern: pattern) } catch {
            throw VolumeError.invalidArgument("'\(pattern)' is not a valid regular expression")
        }
    }

    /// Searches files below `under` by name glob and/or content regex; at most `limit` hits.
    /// With a content regex, each matching line is a hit; without, each matching file.
    public func search(under: String = "/", name: String? = nil, content: String? = nil, limit: Int = 1000) throws -> SearchResult {
        guard name != nil || content != nil else { throw VolumeError.invalidArgument("give a name glob, a content regex, or both") }
        guard limit > 0 else { throw VolumeError.invalidArgument("limit must be positive") }
        let re = try content.map(Self.regex)
        var hits: [SearchHit] = []
        for (path, attrs) in try walkFiles(try VolumePath(under)) {
            if let g = name, !Self.globMatches(g, path) { continue }
            guard let re else {
                hits.append(SearchHit(path: path.description, line: nil, text: nil))
                if hits.count >= limit { return SearchResult(hits: hits, truncated: true) }
                continue
            }
            guard attrs.size <= Self.maxTextFileSize else { continue }
            let text = String(decoding: try read(attrs.ino, offset: 0, count: Int(attrs.size)), as: UTF8.self)
            var lineNo = 0
            for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
                lineNo += 1
                let s = String(line)
                if re.firstMatch(in: s, range: NSRange(s.startIndex..., in: s)) != nil {
                    hits.append(SearchHit(path: path.description, line: lineNo, text: String(s.prefix(500))))
                    if hits.count >= limit { return SearchResult(hits: hits, truncated: true) }
                }
            }
        }
        return SearchResult(hits: hits, truncated: false)
    }

    /// Replaces `old` (a string, or a regex with `$1` templates) by `new` in every UTF-8 file `glob`
    /// selects. All files change in one transaction, or none (the cap is checked for all of them).
    public func replace(glob: String, old: String, new: String, regex: Bool = false, dryRun: Bool = false,
                        under: String = "/", caller: Caller = .root) throws -> ReplaceReport {
        guard !old.isEmpty else { throw VolumeError.invalidArgument("the text to replace is empty") }
        let re = regex ? try Self.regex(old) : nil
        var changed: [WriteEntry] = []
        var total = 0
        for (path, attrs) in try walkFiles(try VolumePath(under)) where Self.globMatches(glob, path) {
            guard attrs.size <= Self.maxTextFileSize,
                  let text = String(data: try read(attrs.ino, offset: 0, count: Int(attrs.size)), encoding: .utf8) else { continue }
            let n: Int
            let result: String
            if let re {
                let range = NSRange(text.startIndex..., in: text)
                n = re.numberOfMatches(in: text, range: range)
                result = n > 0 ? re.stringByReplacingMatches(in: text, range: range, withTemplate: new) : text
            } else {
                n = text.components(separatedBy: old).count - 1
                result = n > 0 ? text.replacingOccurrences(of: old, with: new) : text
            }
            guard n > 0 else { continue }
            total += n
            changed.append(WriteEntry(path: path.description, data: Data(result.utf8)))
        }
        if !dryRun && !changed.isEmpty { try writeFiles(changed, caller: caller) }
        return ReplaceReport(files: changed.map(\.path), replacements: total, dryRun: dryRun)
    }
}
