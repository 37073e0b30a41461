import Testing

/// Every privileged scenario runs inside this suite, one at a time: they mount, unmount and
/// compare the host's mount table, which parallel tests would disturb.
@Suite(.serialized) struct Integration {}
