// The CLI stages uploads with Unix file modes and runs the Linux local stack.
[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]
