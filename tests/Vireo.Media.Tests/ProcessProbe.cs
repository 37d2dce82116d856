namespace Vireo.Media.Tests;

/// <summary>Finds live processes whose command line mentions a marker (a clip path), through /proc.</summary>
internal static class ProcessProbe
{
    /// <summary>Whether a thread of <paramref name="pid"/> sleeps in a pipe write (the reader is not keeping up).</summary>
    public static bool IsBlockedWritingToPipe(int pid)
    {
        try
        {
            return Directory.EnumerateDirectories($"/proc/{pid}/task")
                .Any(task => File.ReadAllText(Path.Combine(task, "wchan")).Contains("pipe_write", StringComparison.Ordinal));
        }
        catch (IOException)
        {
            return false;
        }
    }

    public static IReadOnlyList<int> WithArgument(string marker)
    {
        var found = new List<int>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out var pid) || pid == Environment.ProcessId) continue;
            try
            {
                var cmdline = File.ReadAllText(Path.Combine(dir, "cmdline"));
                // A killed child that nobody reaped yet is a zombie: it holds no resources and runs nothing.
                var stat = File.ReadAllText(Path.Combine(dir, "stat"));
                var state = stat[(stat.LastIndexOf(')') + 2)..][0];
                if (state != 'Z' && cmdline.Contains(marker, StringComparison.Ordinal)) found.Add(pid);
            }
            catch (IOException) { }
            catch (UnauthorizedAccessException) { }
        }
        return found;
    }
}
