//! `cargo xtask <command>`: one command per artefact.
//!
//! - `bindings [--release]`: builds the `migru-ffi` cdylib for this machine and generates the
//!   Kotlin and Swift bindings into `<target>/bindings/{kotlin,swift}` (build outputs).
//! - `kotlin-test [--offline]`: `bindings`, then the JVM test suite in `android/core-jvm` (Maven),
//!   loading the library just built through JNA. With `ORT_DYLIB_PATH` set, it also writes the
//!   demo model (`migru model demo`) for the tests that generate across the FFI. It also builds
//!   `migru-server`, which the sync tests start on loopback.
//! - `android [--release]`: jniLibs for the Android app with `cargo ndk` (needs the NDK).
//! - `apple`: the `MigruCoreFFI.xcframework` and the Swift sources for `ios/Package.swift`
//!   (needs macOS with Xcode).
//!
//! `<target>` is `$CARGO_TARGET_DIR`, or `target/` at the workspace root.

use std::env;
use std::ffi::OsStr;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail, ensure};

const FFI_CRATE: &str = "migru-ffi";
const LIB_NAME: &str = "migru_ffi";
/// The Swift module of the C side (header and module map); `uniffi.toml` names it.
const SWIFT_FFI_MODULE: &str = "MigruCoreFFI";
const APPLE_TARGETS: [&str; 4] = [
    "aarch64-apple-ios",
    "aarch64-apple-ios-sim",
    "x86_64-apple-ios",
    "aarch64-apple-darwin",
];
const ANDROID_ABIS: [&str; 3] = ["arm64-v8a", "armeabi-v7a", "x86_64"];

fn main() -> Result<()> {
    let args: Vec<String> = env::args().skip(1).collect();
    let flag = |name: &str| args.iter().any(|a| a == name);
    let profile = if flag("--release") {
        Profile::Release
    } else {
        Profile::Debug
    };
    let ws = Workspace::locate()?;
    match args.first().map(String::as_str) {
        Some("bindings") => ws.bindings(profile).map(drop),
        Some("kotlin-test") => ws.kotlin_test(flag("--offline")),
        Some("android") => ws.android(profile),
        Some("apple") => ws.apple(),
        _ => bail!(
            "usage: cargo xtask <bindings [--release] | kotlin-test [--offline] | android [--release] | apple>"
        ),
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Profile {
    Debug,
    Release,
}

impl Profile {
    fn dir(self) -> &'static str {
        match self {
            Profile::Debug => "debug",
            Profile::Release => "release",
        }
    }

    fn cargo_args(self) -> &'static [&'static str] {
        match self {
            Profile::Debug => &[],
            Profile::Release => &["--release"],
        }
    }
}

struct Workspace {
    root: PathBuf,
    target: PathBuf,
}

impl Workspace {
    fn locate() -> Result<Self> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .context("xtask/ has no parent")?
            .to_owned();
        let target = match env::var_os("CARGO_TARGET_DIR") {
            Some(dir) => root.join(dir),
            None => root.join("target"),
        };
        Ok(Workspace { root, target })
    }

    /// Builds the host cdylib (only `-p migru-ffi`: a workspace build would unify uniffi's `cli`
    /// feature into it) and generates both bindings from it. Returns the library's path.
    fn bindings(&self, profile: Profile) -> Result<PathBuf> {
        self.cargo(&[&["build", "-p", FFI_CRATE], profile.cargo_args()].concat())?;
        let library = self.target.join(profile.dir()).join(host_library_file());
        ensure!(
            library.is_file(),
            "the build did not produce {}",
            library.display()
        );
        for language in ["kotlin", "swift"] {
            self.generate(&library, language)?;
        }
        Ok(library)
    }

    fn bindings_dir(&self, language: &str) -> PathBuf {
        self.target.join("bindings").join(language)
    }

    /// Runs the workspace's `uniffi-bindgen` (same uniffi version as the library) in library mode.
    fn generate(&self, library: &Path, language: &str) -> Result<()> {
        let out = self.bindings_dir(language);
        if out.exists() {
            fs::remove_dir_all(&out).with_context(|| format!("cannot clear {}", out.display()))?;
        }
        let (library, out, config) = (
            library.as_os_str(),
            out.as_os_str(),
            self.root.join("uniffi.toml"),
        );
        self.cargo(&[
            OsStr::new("run"),
            OsStr::new("-q"),
            OsStr::new("-p"),
            OsStr::new("xtask"),
            OsStr::new("--bin"),
            OsStr::new("uniffi-bindgen"),
            OsStr::new("--"),
            OsStr::new("generate"),
            library,
            OsStr::new("--language"),
            OsStr::new(language),
            OsStr::new("--out-dir"),
            out,
            OsStr::new("--config"),
            config.as_os_str(),
            OsStr::new("--no-format"),
        ])
    }

    fn kotlin_test(&self, offline: bool) -> Result<()> {
        let library = self.bindings(Profile::Debug)?;
        let lib_dir = library.parent().context("library has no folder")?;
        let mut mvn = Command::new("mvn");
        mvn.current_dir(self.root.join("android/core-jvm"))
            .args(["-B", "test"]);
        if offline {
            mvn.arg("-o");
        }
        mvn.arg(format!(
            "-Dmigru.bindings.dir={}",
            self.bindings_dir("kotlin").display()
        ));
        mvn.arg(format!("-Dmigru.library.dir={}", lib_dir.display()));
        if let Some(model) = self.demo_model()? {
            mvn.arg(format!("-Dmigru.demo.model={}", model.display()));
        }
        mvn.arg(format!("-Dmigru.server.bin={}", self.server_binary()?.display()));
        run(&mut mvn)
    }

    /// The real `migru-server` (debug build) the sync tests start on loopback.
    fn server_binary(&self) -> Result<PathBuf> {
        self.cargo(&["build", "-p", "migru-server", "--bin", "migru-server"])?;
        let binary = self.target.join("debug").join(format!("migru-server{}", env::consts::EXE_SUFFIX));
        ensure!(binary.is_file(), "the build did not produce {}", binary.display());
        Ok(binary)
    }

    /// With ONNX Runtime available (`ORT_DYLIB_PATH`), the demo model (`migru model demo`) for
    /// the tests that generate across the FFI; without it they check the template path only.
    fn demo_model(&self) -> Result<Option<PathBuf>> {
        if env::var_os("ORT_DYLIB_PATH").is_none_or(|p| p.is_empty()) {
            return Ok(None);
        }
        let out = self.target.join("kotlin-test").join("demo-model");
        self.cargo(&[
            OsStr::new("run"),
            OsStr::new("-q"),
            OsStr::new("-p"),
            OsStr::new("migru-core"),
            OsStr::new("--bin"),
            OsStr::new("migru"),
            OsStr::new("--"),
            OsStr::new("model"),
            OsStr::new("demo"),
            OsStr::new("--out"),
            out.as_os_str(),
        ])?;
        Ok(Some(out))
    }

    /// jniLibs for every Android ABI, through `cargo ndk` (`cargo install cargo-ndk`, the NDK in
    /// `ANDROID_NDK_HOME`), plus the Kotlin bindings the Gradle build compiles.
    fn android(&self, profile: Profile) -> Result<()> {
        self.bindings(Profile::Debug)?;
        let jni_libs = self.root.join("android/shared/src/main/jniLibs");
        let mut args = vec!["ndk", "--platform", "26", "-o"];
        let jni = jni_libs.to_str().context("non-UTF-8 path")?.to_owned();
        args.push(&jni);
        for abi in ANDROID_ABIS {
            args.extend(["-t", abi]);
        }
        args.extend(["build", "-p", FFI_CRATE]);
        args.extend(profile.cargo_args());
        self.cargo(&args)
    }

    /// `MigruCoreFFI.xcframework` (static libraries for device, simulator and macOS, with the
    /// generated header and module map) and `MigruCore.swift`, where `ios/Package.swift` expects them.
    fn apple(&self) -> Result<()> {
        ensure!(
            cfg!(target_os = "macos"),
            "`cargo xtask apple` needs macOS with Xcode (xcodebuild, lipo)"
        );
        self.bindings(Profile::Debug)?;
        for target in APPLE_TARGETS {
            self.cargo(&["build", "-p", FFI_CRATE, "--release", "--target", target])?;
        }
        let swift = self.bindings_dir("swift");
        let build = self.root.join("ios/build");
        let headers = build.join("headers");
        let sources = build.join("Sources/MigruCore");
        for dir in [&headers, &sources] {
            fs::create_dir_all(dir)?;
        }
        fs::copy(
            swift.join(format!("{SWIFT_FFI_MODULE}.h")),
            headers.join(format!("{SWIFT_FFI_MODULE}.h")),
        )?;
        fs::copy(
            swift.join(format!("{SWIFT_FFI_MODULE}.modulemap")),
            headers.join("module.modulemap"),
        )?;
        fs::copy(
            swift.join("MigruCore.swift"),
            sources.join("MigruCore.swift"),
        )?;
        let static_lib = |target: &str| {
            self.target
                .join(target)
                .join("release")
                .join(format!("lib{LIB_NAME}.a"))
        };
        let simulator = build.join(format!("lib{LIB_NAME}-ios-sim.a"));
        run(Command::new("lipo")
            .arg("-create")
            .arg(static_lib("aarch64-apple-ios-sim"))
            .arg(static_lib("x86_64-apple-ios"))
            .arg("-output")
            .arg(&simulator))?;
        let xcframework = build.join(format!("{SWIFT_FFI_MODULE}.xcframework"));
        if xcframework.exists() {
            fs::remove_dir_all(&xcframework)?;
        }
        let mut xcodebuild = Command::new("xcodebuild");
        xcodebuild.arg("-create-xcframework");
        for library in [
            static_lib("aarch64-apple-ios"),
            simulator,
            static_lib("aarch64-apple-darwin"),
        ] {
            xcodebuild
                .arg("-library")
                .arg(library)
                .arg("-headers")
                .arg(&headers);
        }
        run(xcodebuild.arg("-output").arg(&xcframework))
    }

    fn cargo<S: AsRef<OsStr>>(&self, args: &[S]) -> Result<()> {
        let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        run(Command::new(cargo).current_dir(&self.root).args(args))
    }
}

fn host_library_file() -> String {
    if cfg!(target_os = "macos") {
        format!("lib{LIB_NAME}.dylib")
    } else if cfg!(target_os = "windows") {
        format!("{LIB_NAME}.dll")
    } else {
        format!("lib{LIB_NAME}.so")
    }
}

fn run(command: &mut Command) -> Result<()> {
    let status = command
        .status()
        .with_context(|| format!("cannot start {command:?}"))?;
    ensure!(status.success(), "{command:?} failed with {status}");
    Ok(())
}
