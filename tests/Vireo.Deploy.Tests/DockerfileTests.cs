using System.Text.RegularExpressions;
using Vireo.Testing;

namespace Vireo.Deploy.Tests;

/// <summary>
/// The Dockerfiles of infra/docker. No Docker engine runs here, so the images are not built; instead each
/// Dockerfile's publish command is run as written with --no-build (CI has just built the solution in Release, the
/// configuration the command names), and its base images, user and entry point are checked.
/// </summary>
public sealed partial class DockerfileTests
{
    private static readonly string Folder = Path.Combine(Repository.Root, "infra", "docker");

    public static TheoryData<string> Dockerfiles => new(Directory.GetFiles(Folder, "*.Dockerfile").Select(Path.GetFileName).Order()!);

    [Fact]
    public void EveryDeployableHasADockerfile() =>
        Assert.Equal(["api.Dockerfile", "migrations.Dockerfile", "silo-cuda.Dockerfile", "silo.Dockerfile", "sink.Dockerfile"],
            Directory.GetFiles(Folder, "*.Dockerfile").Select(Path.GetFileName).Order());

    [Theory]
    [MemberData(nameof(Dockerfiles))]
    public void BaseImagesArePinnedToExactVersions(string name)
    {
        var dockerfile = Dockerfile.Read(Path.Combine(Folder, name));
        Assert.NotEmpty(dockerfile.BaseImages);
        foreach (var image in dockerfile.BaseImages)
        {
            if (dockerfile.Stages.Contains(image))
                continue;
            Assert.True(image.Contains("@sha256:") || ExactTag().IsMatch(image), $"{name}: {image} is not pinned to an exact version");
        }
    }

    [Theory]
    [MemberData(nameof(Dockerfiles))]
    public void TheImageRunsAsAnUnprivilegedUser(string name)
    {
        var dockerfile = Dockerfile.Read(Path.Combine(Folder, name));
        var user = dockerfile.FinalStageUser;
        Assert.True(user is "$APP_UID" or "1654", $"{name}: the final stage runs as '{user}'");
    }

    [SkippableTheory]
    [MemberData(nameof(Dockerfiles))]
    public void ThePublishCommandPublishesTheEntryPoint(string name)
    {
        var dockerfile = Dockerfile.Read(Path.Combine(Folder, name));
        var publish = dockerfile.Publish;
        Assert.Equal(["dotnet", "publish"], publish.Take(2));
        var project = publish[2];
        Assert.EndsWith(".csproj", project);
        var output = publish[publish.IndexOf("-o") + 1];
        Assert.Equal("/app", output);
        Assert.Equal(["dotnet", $"{Path.GetFileNameWithoutExtension(project) switch { "Vireo.Cli" => "vireo", var n => n }}.dll"], dockerfile.EntryPoint);
        Skip.If(project == "services/Vireo.Api/Vireo.Api.csproj" && !File.Exists(Path.Combine(Repository.Root, project)),
            "services/Vireo.Api is not in this checkout yet");
        Assert.True(File.Exists(Path.Combine(Repository.Root, project)), $"{name} publishes {project}, which does not exist");
        if (publish.Contains("-p:TorchBackend=cuda"))
        {
            // TorchSharp-cuda-linux cannot be restored here; TorchBackendTests checks what the switch selects.
            Assert.Equal("silo-cuda.Dockerfile", name);
            return;
        }

        var folder = Path.Combine(Path.GetTempPath(), $"vireo-publish-{Guid.NewGuid():N}");
        try
        {
            string[] arguments = [.. publish.Skip(1).Select(a => a == "/app" ? folder : a), "--no-build", "-nologo", "-v", "q"];
            var result = Tools.Run("dotnet", arguments, timeout: TimeSpan.FromMinutes(5));
            Assert.True(result.ExitCode == 0, result.All);
            var entry = Path.Combine(folder, dockerfile.EntryPoint[1]);
            Assert.True(File.Exists(entry), $"{entry} was not published");
            Assert.True(File.Exists(Path.ChangeExtension(entry, ".runtimeconfig.json")));
            if (project.Contains("Vireo.Silo"))
            {
                Assert.True(File.Exists(Path.Combine(folder, "libtorch_cpu.so")), "the silo was published without libtorch");
                Assert.True(File.Exists(Path.Combine(folder, "checkpoints", "vireo-small", "model.safetensors")));
            }
        }
        finally
        {
            if (Directory.Exists(folder))
                Directory.Delete(folder, recursive: true);
        }
    }

    [GeneratedRegex(@":[0-9]+\.[0-9]+\.[0-9]+(-[a-z0-9.-]+)?$")]
    private static partial Regex ExactTag();
}

/// <summary>The parts of a Dockerfile the tests read: ARG defaults resolved into FROM lines, stages, USER, publish, ENTRYPOINT.</summary>
public sealed partial record Dockerfile(IReadOnlyList<string> BaseImages, IReadOnlyList<string> Stages, string? FinalStageUser, List<string> Publish, IReadOnlyList<string> EntryPoint)
{
    public static Dockerfile Read(string path)
    {
        var lines = Logical(File.ReadAllLines(path));
        var arguments = new Dictionary<string, string>();
        var images = new List<string>();
        var stages = new List<string>();
        string? user = null;
        List<string>? publish = null;
        List<string> entry = [];
        foreach (var line in lines)
        {
            var (instruction, rest) = Split(line);
            switch (instruction)
            {
                case "ARG" when rest.Contains('='):
                    arguments[rest[..rest.IndexOf('=')]] = rest[(rest.IndexOf('=') + 1)..];
                    break;
                case "FROM":
                    var parts = rest.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                    images.Add(Variable().Replace(parts[0], m => arguments.GetValueOrDefault(m.Groups[1].Value, m.Value)));
                    if (parts.Length == 3 && parts[1].Equals("AS", StringComparison.OrdinalIgnoreCase))
                        stages.Add(parts[2]);
                    user = null;
                    break;
                case "USER":
                    user = rest;
                    break;
                case "RUN" when rest.StartsWith("dotnet publish ", StringComparison.Ordinal):
                    publish = [.. rest.Split(' ', StringSplitOptions.RemoveEmptyEntries)];
                    break;
                case "ENTRYPOINT":
                    entry = [.. Quoted().Matches(rest).Select(m => m.Groups[1].Value)];
                    break;
            }
        }
        return new Dockerfile(images, stages, user, publish ?? throw new InvalidOperationException($"{path} has no dotnet publish line"), entry);
    }

    /// <summary>Joins continuation lines and drops comments.</summary>
    private static List<string> Logical(IEnumerable<string> physical)
    {
        var result = new List<string>();
        var current = "";
        foreach (var raw in physical)
        {
            var line = raw.Trim();
            if (line.StartsWith('#') || line.Length == 0 && current.Length == 0)
                continue;
            if (line.EndsWith('\\'))
            {
                current += line[..^1] + " ";
                continue;
            }
            result.Add(current + line);
            current = "";
        }
        return result;
    }

    private static (string Instruction, string Value) Split(string line)
    {
        var space = line.IndexOf(' ');
        return space < 0 ? (line.ToUpperInvariant(), "") : (line[..space].ToUpperInvariant(), line[(space + 1)..].Trim());
    }

    [GeneratedRegex(@"\$\{([A-Za-z_]+)\}")]
    private static partial Regex Variable();

    [GeneratedRegex("\"([^\"]*)\"")]
    private static partial Regex Quoted();
}
