public enum LibX {}
