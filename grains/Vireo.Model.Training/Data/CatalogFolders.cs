namespace Vireo.Model.Training.Data;

/// <summary>
/// Where a catalogue of installed files (fonts, photographs) is read from, and the catalogues read so far: each set
/// of folders is read once per process.
/// </summary>
internal sealed class CatalogFolders<T>(string variable, string systemFolder, Func<IReadOnlyList<string>, T> discover)
{
    private readonly Lock _gate = new();
    private readonly Dictionary<string, T> _loaded = [];

    /// <summary>The folders named by the environment variable (separated by ':') when it is set, else the system's.</summary>
    public IReadOnlyList<string> Defaults() =>
        Environment.GetEnvironmentVariable(variable) is { Length: > 0 } folders
            ? folders.Split(':', StringSplitOptions.RemoveEmptyEntries)
            : [systemFolder];

    public T Load(IReadOnlyList<string> folders)
    {
        var key = string.Join(':', folders);
        lock (_gate)
        {
            if (!_loaded.TryGetValue(key, out var catalog))
                _loaded[key] = catalog = discover(folders);
            return catalog;
        }
    }

    /// <summary>Every file under the folders whose name ends in one of <paramref name="extensions"/>, in a fixed order.</summary>
    public static IEnumerable<string> Files(IReadOnlyList<string> folders, params string[] extensions) =>
        folders.Where(Directory.Exists)
            .SelectMany(d => Directory.EnumerateFiles(d, "*", SearchOption.AllDirectories))
            .Where(f => extensions.Any(e => f.EndsWith(e, StringComparison.OrdinalIgnoreCase)));
}
