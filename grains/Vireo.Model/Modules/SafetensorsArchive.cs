using System.Buffers.Binary;
using System.IO.MemoryMappedFiles;
using System.Runtime.InteropServices;
using System.Text.Json;
using static TorchSharp.torch;

namespace Vireo.Model.Modules;

/// <summary>One tensor of a safetensors file: where its bytes are, and what they hold.</summary>
public sealed record SafetensorsEntry(string Name, string File, ScalarType DType, long[] Shape, long Begin, long End);

/// <summary>
/// The safetensors files of a checkpoint directory: <c>model.safetensors</c>, or the shards that
/// <c>model.safetensors.index.json</c> lists. Files are memory-mapped; a tensor is read on its own into a host tensor of
/// the file's dtype, so loading never holds more than one tensor beyond the model itself.
/// </summary>
public sealed class SafetensorsArchive : IDisposable
{
    public const string SingleFile = "model.safetensors";
    public const string IndexFile = "model.safetensors.index.json";

    private readonly Dictionary<string, (MemoryMappedFile Map, MemoryMappedViewAccessor View, long DataStart)> _files = [];

    private SafetensorsArchive(IReadOnlyDictionary<string, SafetensorsEntry> entries) => Entries = entries;

    /// <summary>Every tensor by name.</summary>
    public IReadOnlyDictionary<string, SafetensorsEntry> Entries { get; }

    /// <summary>Whether a directory holds weights this reader can open.</summary>
    public static bool Exists(string directory) =>
        File.Exists(Path.Combine(directory, IndexFile)) || File.Exists(Path.Combine(directory, SingleFile));

    /// <summary>Opens a directory's weights (the index when there is one, else the single file), reading the headers.</summary>
    public static SafetensorsArchive Open(string directory)
    {
        var index = Path.Combine(directory, IndexFile);
        IEnumerable<string> files;
        if (File.Exists(index))
        {
            using var json = JsonDocument.Parse(File.ReadAllBytes(index));
            if (!json.RootElement.TryGetProperty("weight_map", out var map))
                throw new InvalidDataException($"{index} has no weight_map.");
            files = map.EnumerateObject().Select(p => p.Value.GetString()!).Distinct(StringComparer.Ordinal)
                .Select(f => Path.Combine(directory, f)).ToList();
        }
        else
        {
            files = [Path.Combine(directory, SingleFile)];
        }
        return OpenFiles(files);
    }

    /// <summary>Opens one safetensors file.</summary>
    public static SafetensorsArchive OpenFile(string file) => OpenFiles([file]);

    private static SafetensorsArchive OpenFiles(IEnumerable<string> files)
    {
        var entries = new Dictionary<string, SafetensorsEntry>(StringComparer.Ordinal);
        var archive = new SafetensorsArchive(entries);
        try
        {
            foreach (var file in files)
            {
                if (!File.Exists(file)) throw new FileNotFoundException($"No weights at {file}.", file);
                var dataStart = ReadHeader(file, entries);
                var map = MemoryMappedFile.CreateFromFile(file, FileMode.Open, null, 0, MemoryMappedFileAccess.Read);
                archive._files[file] = (map, map.CreateViewAccessor(0, 0, MemoryMappedFileAccess.Read), dataStart);
            }
        }
        catch
        {
            archive.Dispose();
            throw;
        }
        return archive;
    }

    /// <summary>The tensor names of one safetensors file, from its header alone.</summary>
    public static IReadOnlyList<string> TensorNames(string file)
    {
        var entries = new Dictionary<string, SafetensorsEntry>(StringComparer.Ordinal);
        ReadHeader(file, entries);
        return entries.Keys.ToList();
    }

    /// <summary>A tensor's bytes copied into a new host tensor of the file's dtype and shape.</summary>
    public Tensor Read(string name)
    {
        var entry = Entries[name];
        var (_, view, dataStart) = _files[entry.File];
        var result = empty(entry.Shape, dtype: entry.DType);
        var bytes = entry.End - entry.Begin;
        if (bytes != result.NumberOfElements * result.ElementSize)
        {
            result.Dispose();
            throw new InvalidDataException($"{entry.File}: {name} holds {bytes} bytes for shape [{string.Join(",", entry.Shape)}] of {entry.DType}.");
        }
        unsafe
        {
            byte* start = null;
            view.SafeMemoryMappedViewHandle.AcquirePointer(ref start);
            try
            {
                var source = start + view.PointerOffset + dataStart + entry.Begin;
                if (bytes > int.MaxValue) throw new InvalidDataException($"{entry.File}: {name} is larger than 2 GiB.");
                result.bytes = new Span<byte>(source, (int)bytes);
            }
            finally
            {
                view.SafeMemoryMappedViewHandle.ReleasePointer();
            }
        }
        return result;
    }

    public void Dispose()
    {
        foreach (var (map, view, _) in _files.Values)
        {
            view.Dispose();
            map.Dispose();
        }
        _files.Clear();
    }

    private static long ReadHeader(string file, Dictionary<string, SafetensorsEntry> into)
    {
        using var stream = File.OpenRead(file);
        Span<byte> size = stackalloc byte[8];
        stream.ReadExactly(size);
        var length = BinaryPrimitives.ReadUInt64LittleEndian(size);
        if (length > int.MaxValue || (long)length > stream.Length - 8) throw new InvalidDataException($"{file} is not a safetensors file.");
        var header = new byte[(int)length];
        stream.ReadExactly(header);
        var dataStart = 8 + (long)length;
        using var json = JsonDocument.Parse(header);
        foreach (var p in json.RootElement.EnumerateObject())
        {
            if (p.Name == "__metadata__") continue;
            var dtype = p.Value.GetProperty("dtype").GetString() switch
            {
                "F32" => ScalarType.Float32,
                "F16" => ScalarType.Float16,
                "BF16" => ScalarType.BFloat16,
                "F64" => ScalarType.Float64,
                "I64" => ScalarType.Int64,
                "I32" => ScalarType.Int32,
                "U8" => ScalarType.Byte,
                "BOOL" => ScalarType.Bool,
                var other => throw new InvalidDataException($"{file}: tensor {p.Name} has dtype {other}, which Vireo does not read."),
            };
            var shape = p.Value.GetProperty("shape").EnumerateArray().Select(x => x.GetInt64()).ToArray();
            var offsets = p.Value.GetProperty("data_offsets").EnumerateArray().Select(x => x.GetInt64()).ToArray();
            if (offsets.Length != 2 || offsets[0] < 0 || offsets[1] < offsets[0] || dataStart + offsets[1] > stream.Length)
                throw new InvalidDataException($"{file}: tensor {p.Name} lies outside the file.");
            if (!into.TryAdd(p.Name, new SafetensorsEntry(p.Name, file, dtype, shape, offsets[0], offsets[1])))
                throw new InvalidDataException($"{file}: tensor {p.Name} is in more than one file.");
        }
        return dataStart;
    }
}
