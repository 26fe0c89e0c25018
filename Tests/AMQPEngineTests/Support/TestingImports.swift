// Every test file sees the testing module (DriverPair, ScriptedPeer, Responder).
@_exported import AMQPEngineTesting
