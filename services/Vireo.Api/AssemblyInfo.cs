// Uploads are stored with Unix file modes (folders 700, files 600); the API runs on Linux.
[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]
