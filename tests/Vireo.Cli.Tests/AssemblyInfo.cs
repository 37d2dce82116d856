// The stack scripts, the CLI and the Unix file modes these tests check are Linux facts.
[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]
