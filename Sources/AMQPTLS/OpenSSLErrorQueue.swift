import COpenSSL

/// One entry of OpenSSL's error queue: the packed code, its reason text and any detail OpenSSL
/// attached (a file name, say).
struct OpenSSLErrorEntry {
    var code: UInt
    var reason: String
    var data: String?

    /// The library part of the code (`ERR_LIB_SSL`, `ERR_LIB_X509`, `ERR_LIB_SYS`...).
    var library: Int32 { camqp_err_get_lib(code) }
    /// The reason part of the code (`SSL_R_*`, or an errno for `ERR_LIB_SYS`).
    var reasonCode: Int32 { camqp_err_get_reason(code) }

    /// "reason (data)", or the reason alone.
    var text: String { data.map { "\(reason) (\($0))" } ?? reason }
}

/// OpenSSL's error queue is per thread: each call that can fail starts by clearing it
/// (`SSL_get_error` requires that) and, when it failed, drains it on the same thread.
enum OpenSSLErrorQueue {
    /// Empties this thread's queue, so that what follows reads only the next call's errors.
    static func clear() {
        ERR_clear_error()
    }

    /// Takes every entry off this thread's queue, oldest first.
    static func drain() -> [OpenSSLErrorEntry] {
        var entries: [OpenSSLErrorEntry] = []
        while true {
            var data: UnsafePointer<CChar>? = nil
            var flags: Int32 = 0
            // ERR_get_error_all writes through the two pointers we pass (both to live locals) and
            // returns pointers into the queue's own strings, which stay valid until the entry is
            // freed; we copy `data` into a String before the next call.
            let code = ERR_get_error_all(nil, nil, nil, &data, &flags)
            if code == 0 { break }
            var detail: String? = nil
            if flags & ERR_TXT_STRING != 0, let data, data.pointee != 0 {
                detail = String(cString: data)
            }
            entries.append(OpenSSLErrorEntry(code: code, reason: reasonText(code), data: detail))
        }
        return entries
    }

    /// OpenSSL's text for a packed code: the reason string ("certificate verify failed"), or the
    /// whole `error:0A000086:...` form when OpenSSL has no string for it.
    static func reasonText(_ code: UInt) -> String {
        // ERR_reason_error_string returns a pointer into OpenSSL's static string tables (never
        // freed), or NULL; we copy it at once.
        if let text = ERR_reason_error_string(code) {
            return String(cString: text)
        }
        // ERR_error_string_n writes at most `count` bytes, NUL included, into our buffer.
        let full = withUnsafeTemporaryAllocation(of: CChar.self, capacity: 256) { buffer in
            ERR_error_string_n(code, buffer.baseAddress, buffer.count)
            return String(cString: buffer.baseAddress!)
        }
        // "error:80000002:system library::No such file or directory": keep the text after the
        // code, library and function fields (system errors have no reason string of their own).
        let fields = full.split(separator: ":", maxSplits: 4, omittingEmptySubsequences: false)
        if fields.count == 5, fields[0] == "error", !fields[4].isEmpty { return String(fields[4]) }
        return full
    }

    /// The entries as one line: "reason (data); reason; ...", without repeats; `fallback` when
    /// the queue was empty.
    static func describe(_ entries: [OpenSSLErrorEntry], fallback: String) -> String {
        var seen: [String] = []
        for entry in entries where !seen.contains(entry.text) {
            seen.append(entry.text)
        }
        return seen.isEmpty ? fallback : seen.joined(separator: "; ")
    }
}
