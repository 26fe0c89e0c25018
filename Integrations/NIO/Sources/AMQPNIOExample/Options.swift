import AMQPNIO
import NIOSSL

/// The command line: `amqp-nio-example URL [COUNT] [--ca PEM] [--cert PEM --key PEM] [--server-name NAME]`.
struct Options {
    var url = ""
    var count = 1000
    var configuration = AMQPClientConfiguration(containerID: "amqp-nio-example")

    static let usage = "usage: amqp-nio-example amqp[s]://[user[:password]@]host[:port][/address] [COUNT] [--ca PEM] [--cert PEM --key PEM] [--server-name NAME]"

    /// Parses `arguments`; nil when they are wrong. Certificate files are read here.
    init?(_ arguments: [String]) throws {
        var rest = arguments[...]
        guard let url = rest.popFirst() else { return nil }
        self.url = url
        var certificate: String?, key: String?
        while let argument = rest.popFirst() {
            switch argument {
            case "--ca":
                guard let file = rest.popFirst() else { return nil }
                configuration.tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(file))
            case "--cert": certificate = rest.popFirst(); if certificate == nil { return nil }
            case "--key": key = rest.popFirst(); if key == nil { return nil }
            case "--server-name": configuration.tlsServerName = rest.popFirst(); if configuration.tlsServerName == nil { return nil }
            default:
                guard let n = Int(argument), n > 0 else { return nil }
                count = n
            }
        }
        if let certificate, let key {
            // A client certificate: SASL EXTERNAL is chosen automatically for amqps.
            configuration.tls.certificateChain = try NIOSSLCertificate.fromPEMFile(certificate).map { .certificate($0) }
            configuration.tls.privateKey = .privateKey(try NIOSSLPrivateKey(file: key, format: .pem))
        } else if certificate != nil || key != nil {
            return nil
        }
    }
}
