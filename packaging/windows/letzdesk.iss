; Inno Setup 6.3+ script: a Windows installer for the folder that build.spec makes.
;
; UNTESTED: written and reviewed on Linux, never compiled or run on Windows. See
; docs/packaging.md (Windows) before relying on it.
;
; From the top of the checkout, after `pyinstaller --noconfirm --clean build.spec`:
;   iscc /DAppVersion=0.1.0 packaging\windows\letzdesk.iss
; -> dist\letzdesk-0.1.0-windows-x64-setup.exe
; Relative paths below are relative to this file's folder.

#ifndef AppVersion
  #error Pass the version: iscc /DAppVersion=X.Y.Z packaging\windows\letzdesk.iss
#endif

[Setup]
; The AppId identifies letzdesk to Windows' uninstaller across versions: never change it.
AppId={{8DD98EA8-EA8C-4244-A721-9493F1917981}
AppName=letzdesk
AppVersion={#AppVersion}
AppVerName=letzdesk {#AppVersion}
AppPublisher=letzdesk team
DefaultDirName={autopf}\letzdesk
DisableProgramGroupPage=yes
; Per-user installs need no administrator; the dialog lets an administrator install for everyone.
PrivilegesRequired=lowest
PrivilegesRequiredOverridesAllowed=dialog
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
OutputDir=..\..\dist
OutputBaseFilename=letzdesk-{#AppVersion}-windows-x64-setup
Compression=lzma2
SolidCompression=yes
WizardStyle=modern
UninstallDisplayIcon={app}\letzdesk.exe
; letzdesk keeps its data in %LOCALAPPDATA%\letzdesk, outside {app}: uninstalling leaves the
; database and keys where they are, as a reinstall expects.

[Tasks]
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"; Flags: unchecked

[Files]
; The whole onedir bundle: letzdesk.exe (the window), letzdesk-cli.exe (the command line) and _internal\.
Source: "..\..\dist\letzdesk\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[Icons]
Name: "{autoprograms}\letzdesk"; Filename: "{app}\letzdesk.exe"
Name: "{autodesktop}\letzdesk"; Filename: "{app}\letzdesk.exe"; Tasks: desktopicon

[Run]
Filename: "{app}\letzdesk.exe"; Description: "{cm:LaunchProgram,letzdesk}"; Flags: nowait postinstall skipifsilent
