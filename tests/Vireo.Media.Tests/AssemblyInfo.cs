// ffmpeg, /proc and the Unix file modes used by these tests are Linux facts.
[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]
