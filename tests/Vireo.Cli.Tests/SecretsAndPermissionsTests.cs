using Npgsql;
using Vireo.Cli.Commands;
using Vireo.Testing;

namespace Vireo.Cli.Tests;

/// <summary>What the local stack and the CLI leave readable, and with which Postgres rights the application runs.</summary>
public sealed class SecretsAndPermissionsTests
{
    private const UnixFileMode OwnerOnlyFile = UnixFileMode.UserRead | UnixFileMode.UserWrite;
    private const UnixFileMode OwnerOnlyFolder = OwnerOnlyFile | UnixFileMode.UserExecute;

    [Theory]
    [InlineData("stack.env")]
    [InlineData("secrets.env")]
    public void FilesWithPasswordsAreReadableByTheirOwnerOnly(string name)
    {
        Assert.Equal(OwnerOnlyFile, File.GetUnixFileMode(Path.Combine(LocalStack.StateFolder, name)));
    }

    [Fact]
    public async Task TheApplicationRoleOwnsItsDatabaseAndIsNoSuperuser()
    {
        await using var connection = new NpgsqlConnection(LocalStack.PostgresConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("""
            select r.rolsuper, r.rolcreaterole, d.datdba = r.oid
            from pg_roles r, pg_database d
            where r.rolname = current_user and d.datname = current_database()
            """, connection);
        await using var reader = await command.ExecuteReaderAsync();
        Assert.True(await reader.ReadAsync());
        Assert.False(reader.GetBoolean(0), "the application role is a superuser");
        Assert.False(reader.GetBoolean(1), "the application role may create roles");
        Assert.True(reader.GetBoolean(2), "the application role does not own its database");
    }

    [Theory]
    [InlineData(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead)]
    [InlineData(UnixFileMode.UserRead | UnixFileMode.UserWrite)]
    public void AStagedUploadIsPrivateAndTheSourceKeepsItsMode(UnixFileMode sourceMode)
    {
        var folder = Directory.CreateTempSubdirectory("vireo-stage-").FullName;
        try
        {
            var source = Path.Combine(folder, "clip.MP4");
            File.WriteAllBytes(source, [1, 2, 3]);
            File.SetUnixFileMode(source, sourceMode);
            var mediaRoot = Path.Combine(folder, "media");

            var relative = AnalysisSession.Stage(mediaRoot, source, "video-1");

            Assert.Equal(Path.Combine("uploads", "video-1.mp4"), relative);
            var staged = Path.Combine(mediaRoot, relative);
            Assert.Equal([1, 2, 3], File.ReadAllBytes(staged));
            Assert.Equal(OwnerOnlyFile, File.GetUnixFileMode(staged));
            Assert.Equal(OwnerOnlyFolder, File.GetUnixFileMode(Path.Combine(mediaRoot, "uploads")));
            Assert.Equal(OwnerOnlyFolder, File.GetUnixFileMode(mediaRoot));
            Assert.Equal(sourceMode, File.GetUnixFileMode(source));
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
