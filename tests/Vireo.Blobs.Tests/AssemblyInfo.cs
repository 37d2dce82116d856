// The folder store's tests check Unix file modes and links.
[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]
