namespace Vireo.Grains.Ingest;

/// <summary>
/// A path with every symbolic link resolved, component by component, the way the kernel resolves it when the file
/// is opened: a ".." that follows a link climbs from the link's target, not from the folder holding the link.
/// Normalising "..", and checking only the last component for a link, both let a link to a folder lead elsewhere.
/// </summary>
internal readonly record struct LinkFreePath(string Path, bool Exists)
{
    // The kernel's own limit (MAXSYMLINKS) on links followed while resolving one path.
    private const int MaxLinks = 40;

    /// <summary>
    /// Resolves <paramref name="fullPath"/>. Where a component does not exist, the rest is appended as written
    /// (with "." and ".." applied) and <see cref="Exists"/> is false: the prefix that was resolved still tells
    /// where the path leads.
    /// </summary>
    public static LinkFreePath Resolve(string fullPath)
    {
        if (!System.IO.Path.IsPathRooted(fullPath))
            throw new ArgumentException("The path must be absolute.", nameof(fullPath));
        var pending = new Stack<string>();
        Push(pending, fullPath);
        var resolved = new List<string>();
        var exists = true;
        var links = 0;
        while (pending.TryPop(out var part))
        {
            if (part is "" or ".") continue;
            if (part == "..")
            {
                // Every component in resolved is a real folder, so its parent is the kernel's "..".
                if (resolved.Count > 0) resolved.RemoveAt(resolved.Count - 1);
                continue;
            }
            var candidate = Join(resolved, part);
            string? target;
            try
            {
                target = exists ? new FileInfo(candidate).LinkTarget : null;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new SourceRejectedException($"'{candidate}' cannot be examined: {e.Message}");
            }
            if (target is null)
            {
                if (exists && !System.IO.Path.Exists(candidate)) exists = false;
                resolved.Add(part);
                continue;
            }
            if (++links > MaxLinks)
                throw new SourceRejectedException($"resolving '{fullPath}' follows more than {MaxLinks} links");
            if (System.IO.Path.IsPathRooted(target)) resolved.Clear();
            Push(pending, target);
        }
        return new LinkFreePath(Join(resolved, null), exists);
    }

    private static void Push(Stack<string> pending, string path)
    {
        var parts = path.Split('/');
        for (var i = parts.Length - 1; i >= 0; i--) pending.Push(parts[i]);
    }

    private static string Join(List<string> parts, string? last) =>
        "/" + string.Join('/', last is null ? parts : parts.Append(last));
}
